using Attend.Nn;

namespace Attend.Interpret;

/// <summary>
/// The attention of a <see cref="Seq2Seq"/> on a teacher-forced pass: the encoder's self-attention over the source, the
/// decoder's self-attention over its inputs, and the cross-attention from what it writes to the source (row t of a
/// cross map is the query that wrote token t). Sites are <c>transformer.{encoder|decoder}.layers.N.{self_attn|multihead_attn}</c>.
/// </summary>
public static class Seq2SeqAttention
{
    /// <summary>Runs the model on (src, tgt) in evaluation mode without gradients, capturing the sites
    /// <paramref name="sites"/> accepts (null: all), every head; the model's mode is restored afterwards.</summary>
    public static IReadOnlyList<CapturedAttention> Capture(Seq2Seq model, Tensor src, Tensor padMask, Tensor tgt, Func<string, bool>? sites = null)
    {
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            using var capture = AttentionCapture.Start(model, sites);
            model.Forward(src, padMask, tgt);
            return capture.Records;
        }
        finally { model.Train(wasTraining); }
    }

    /// <summary>The last decoder layer's cross-attention on (src, tgt), averaged over heads: weights[t, s] of batch item 0,
    /// how much the query that wrote token t looked at source position s.</summary>
    public static float[,] LastCrossMean(Seq2Seq model, Tensor src, Tensor padMask, Tensor tgt)
    {
        var mean = AttentionAnalysis.Mean(Capture(model, src, padMask, tgt, IsCross)[^1].Maps());
        var w = new float[mean.GetLength(0), mean.GetLength(1)];
        for (int t = 0; t < w.GetLength(0); t++)
            for (int j = 0; j < w.GetLength(1); j++) w[t, j] = (float)mean[t, j];
        return w;
    }

    /// <summary>Sparsity and entropy of every decoder layer's cross-attention, per head, over teacher-forced batches
    /// (src, padMask, tgt, which query rows count), padding keys left out.</summary>
    public static AttentionStats CrossStats(Seq2Seq model, IEnumerable<(Tensor Src, Tensor PadMask, Tensor Tgt, Func<int, int, bool> RealQuery)> batches)
    {
        var stats = new AttentionStats();
        foreach (var (src, pad, tgt, real) in batches)
        {
            var padv = pad.ToBoolArray();
            foreach (var r in Capture(model, src, pad, tgt, IsCross)) stats.Add(r, padv, real);
        }
        return stats;
    }

    /// <summary>True for a cross-attention site.</summary>
    public static bool IsCross(string site) => site.EndsWith(".multihead_attn", StringComparison.Ordinal);

    /// <summary>Labelled views of batch item 0: "encoder N" over <paramref name="source"/>, "decoder N self" over
    /// <paramref name="decoderInput"/>, "decoder N cross" from <paramref name="written"/> to the source.</summary>
    public static List<AttentionView> Views(IReadOnlyList<CapturedAttention> records, string[] source, string[] decoderInput, string[] written)
    {
        var views = new List<AttentionView>();
        foreach (var r in records)
        {
            var p = r.Site.Split('.');          // transformer.{encoder|decoder}.layers.{i}.{self_attn|multihead_attn}
            if (p.Length != 5 || p[0] != "transformer") continue;
            string layer = p[3];
            views.Add((p[1], p[4]) switch
            {
                ("encoder", _) => AttentionView.From(r, $"encoder {layer}", "self", "encoder", source, source),
                ("decoder", "self_attn") => AttentionView.From(r, $"decoder {layer} self", "self", "decoder", decoderInput, decoderInput),
                _ => AttentionView.From(r, $"decoder {layer} cross", "cross", "cross", written, source),
            });
        }
        return views;
    }
}
