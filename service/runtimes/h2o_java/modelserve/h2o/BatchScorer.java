// modelserve's H2O runtime (service/runtimes/h2o_mojo.py): scores a whole batch of rows in
// one call from Python, so that a batch crosses JPype once, not once per row and value.
// Compiled for Java 8 against H2O's genmodel classes and shipped beside this source
// (BatchScorer.class, plus its inner class): `make h2o-scorer` rebuilds it, and a test checks
// that the shipped classes are this source's.
package modelserve.h2o;

import hex.ModelCategory;
import hex.genmodel.ModelMojoReader;
import hex.genmodel.MojoModel;
import hex.genmodel.MojoReaderBackend;
import hex.genmodel.MojoReaderBackendFactory;
import hex.genmodel.easy.EasyPredictModelWrapper;
import hex.genmodel.easy.RowData;
import hex.genmodel.easy.prediction.BinomialModelPrediction;
import hex.genmodel.easy.prediction.MultinomialModelPrediction;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

public final class BatchScorer {
    private final MojoModel model;
    private final ModelCategory category;
    private final EasyPredictModelWrapper wrapper;
    private final Unseen unseen = new Unseen();

    /** The MOJO from its bytes (never a path: the service reads no files for a model). */
    public BatchScorer(byte[] mojo) throws IOException {
        MojoReaderBackend reader = MojoReaderBackendFactory.createReaderBackend(
                new ByteArrayInputStream(mojo), MojoReaderBackendFactory.CachingStrategy.MEMORY);
        model = ModelMojoReader.readFrom(reader);
        category = model.getModelCategory();
        // An unseen category is a missing value, as H2O itself scores it, and is counted.
        wrapper = new EasyPredictModelWrapper(new EasyPredictModelWrapper.Config()
                .setModel(model)
                .setConvertUnknownCategoricalLevelsToNa(true)
                .setErrorConsumer(unseen));
    }

    public MojoModel model() {
        return model;
    }

    /** Values per row of score(): the label's index then one probability per class, or the value. */
    public int width() {
        return category == ModelCategory.Regression ? 1 : 1 + model.getNumResponseClasses();
    }

    /** Values of categorical inputs not in the model's domain, scored as missing so far. */
    public long unseenCategories() {
        return unseen.count.get();
    }

    /**
     * Scores ``size`` rows. ``columns[i]`` holds input ``names[i]``: a double[] (NaN: missing)
     * or a String[] (null: missing). Returns width() values per row, row after row; a row the
     * scorer refuses is NaN throughout, and ``errors[row]`` says why.
     */
    public double[] score(String[] names, Object[] columns, int size, String[] errors) {
        int width = width();
        double[] out = new double[size * width];
        for (int row = 0; row < size; row++) {
            RowData data = new RowData();
            for (int c = 0; c < names.length; c++) {
                Object column = columns[c];
                if (column instanceof double[]) {
                    double value = ((double[]) column)[row];
                    if (!Double.isNaN(value)) {
                        data.put(names[c], value);
                    }
                } else {
                    String value = ((String[]) column)[row];
                    if (value != null) {
                        data.put(names[c], value);
                    }
                }
            }
            int at = row * width;
            try {
                if (category == ModelCategory.Binomial) {
                    BinomialModelPrediction p = wrapper.predictBinomial(data);
                    out[at] = p.labelIndex; // the MOJO's own label: its F1-optimal threshold
                    System.arraycopy(p.classProbabilities, 0, out, at + 1, width - 1);
                } else if (category == ModelCategory.Multinomial) {
                    MultinomialModelPrediction p = wrapper.predictMultinomial(data);
                    out[at] = p.labelIndex;
                    System.arraycopy(p.classProbabilities, 0, out, at + 1, width - 1);
                } else {
                    out[at] = wrapper.predictRegression(data).value;
                }
            } catch (Exception e) {
                Arrays.fill(out, at, at + width, Double.NaN);
                errors[row] = e.toString();
            }
        }
        return out;
    }

    static final class Unseen extends EasyPredictModelWrapper.ErrorConsumer {
        final AtomicLong count = new AtomicLong();

        @Override
        public void dataTransformError(String column, Object value, String message) {}

        @Override
        public void unseenCategorical(String column, Object value, String message) {
            count.incrementAndGet();
        }
    }
}
