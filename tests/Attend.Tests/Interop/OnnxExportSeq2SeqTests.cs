using Attend.Nn;
using Microsoft.ML.OnnxRuntime;
using Xunit;
using Xunit.Abstractions;
using static Attend.Tests.Interop.OnnxRun;

namespace Attend.Tests.Interop;

/// <summary>
/// The encoder-decoder exported to ONNX and run by ONNX Runtime: token sources (learned and sinusoidal positions) and
/// feature-frame sources (speech's subsampling by 4 and by 2), padded batches at two batch sizes and two lengths; the
/// teacher-forced logits and the encoder states equal Attend's, and greedy decoding through the exported encoder and
/// KV-cache decoder gives the tokens of <see cref="Seq2Seq.Greedy"/>.
/// </summary>
public sealed class OnnxExportSeq2SeqTests(ITestOutputHelper output) : IDisposable
{
    private readonly OnnxRun run = new();
    public void Dispose() => run.Dispose();

    private const double Tolerance = 1e-5;
    private const int Features = 6, TargetVocab = 17;

    public static TheoryData<string, int> Cases() => new()
    {
        { "tokens-learned", 17 }, { "tokens-learned", 23 }, { "tokens-sinusoidal", 17 }, { "tokens-sinusoidal", 23 },
        { "frames-4", 17 }, { "frames-4", 23 }, { "frames-2", 17 },
    };

    private static Seq2Seq Model(string kind)
    {
        var c = new Seq2SeqConfig(SourceVocab: 19, TargetVocab: TargetVocab, DModel: 32, Heads: 4, EncoderLayers: 2, DecoderLayers: 2,
            FeedForward: 64, MaxSource: 24, MaxTarget: 40);
        c = kind switch
        {
            "tokens-learned" => c,
            "tokens-sinusoidal" => c with { Positions = Seq2SeqPositions.Sinusoidal },
            "frames-4" => c with { SourceVocab = 0, SourceFeatures = Features, Subsampling = 4 },
            "frames-2" => c with { SourceVocab = 0, SourceFeatures = Features, Subsampling = 2, Positions = Seq2SeqPositions.Sinusoidal },
            _ => throw new ArgumentException(kind),
        };
        var m = new Seq2Seq(c, new Random(5));
        Randomize(m, 5);
        m.Eval();
        return m;
    }

    /// <summary>A padded batch of B sources, row b with lengths[b] encoder positions: the source tensor, Attend's
    /// padding mask (True = pad) and Hugging Face's attention_mask (1 = real), both per encoder position.</summary>
    private static (Tensor Source, Tensor Pad, NamedOnnxValue[] Feeds) Sources(Seq2Seq m, int[] lengths, Random rng)
    {
        var c = m.Config;
        int B = lengths.Length, S = lengths.Max();
        var keep = new long[B * S];
        for (int b = 0; b < B; b++) for (int s = 0; s < lengths[b]; s++) keep[b * S + s] = 1;
        var pad = Tensor.FromArray(keep.Select(k => k == 0).ToArray(), [B, S]);
        var mask = Long("attention_mask", keep, B, S);
        if (c.SourceVocab > 0)
        {
            var ids = new long[B * S];
            for (int i = 0; i < ids.Length; i++) ids[i] = keep[i] == 1 ? rng.Next(3, c.SourceVocab) : c.Pad;
            return (Tensor.FromArray(ids, [B, S]), pad, [Long("input_ids", ids, B, S), mask]);
        }
        int F = S * c.Subsampling;
        var frames = Enumerable.Range(0, B * F * Features).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return (Tensor.FromArray(frames, [B, F, Features]), pad, [Float("input_features", frames, B, F, Features), mask]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TeacherForcedLogitsAndEncoderStatesEqualAttends(string kind, int opset)
    {
        var m = Model(kind);
        var file = run.Export(m, $"s2s-{kind}-{opset}", opset).Single();
        Assert.Contains("decoder_input_ids [batch, decoder_sequence_length]", file.Inputs);
        Assert.Equal([$"logits [batch, decoder_sequence_length, {TargetVocab}]", "encoder_last_hidden_state [batch, encoder_sequence_length, 32]"], file.Outputs);
        using var s = Session(file.Path);
        var rng = new Random(9);
        using var _ = Autograd.NoGrad();
        foreach (var (lengths, T) in new[] { (new[] { 7 }, 3), (new[] { 5, 12, 9 }, 21) })
        {
            var (src, pad, feeds) = Sources(m, lengths, rng);
            int B = lengths.Length;
            var tgt = Ids(rng, B * T, TargetVocab);
            var memory = m.Encode(src, pad);
            var expected = m.Decode(memory, pad, Tensor.FromArray(tgt, [B, T])).ToArray();
            var r = Run(s, [.. feeds, Long("decoder_input_ids", tgt, B, T)]);
            double err = MaxError(r["logits"].Data, expected, $"{kind} logits"), errMem = MaxError(r["encoder_last_hidden_state"].Data, memory.ToArray(), $"{kind} memory");
            output.WriteLine($"{kind} opset {opset} B={B} S={lengths.Max()} T={T}: logits max error {err:E2} (max |logit| {expected.Max(Math.Abs):F2}), encoder states {errMem:E2}");
            Assert.True(err <= Tolerance && errMem <= Tolerance, $"{kind} opset {opset}: errors {err:E2}, {errMem:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyDecodingThroughTheExportedEncoderAndKvCacheDecoderGivesAttendsTokens(string kind, int opset)
    {
        var m = Model(kind);
        var files = run.Export(m, $"s2s-kv-{kind}-{opset}", opset, kvCache: true);
        Assert.Equal(["encoder", "decoder"], files.Select(f => f.Role));
        Assert.EndsWith($"s2s-kv-{kind}-{opset}.decoder.onnx", files[1].Path);
        Assert.Contains("past_key_values.1.decoder.value [batch, 4, past_decoder_sequence_length, 8]", files[1].Inputs);
        using var encoder = Session(files[0].Path);
        using var decoder = Session(files[1].Path);
        var c = m.Config;
        int[] lengths = [5, 11, 8];
        int B = lengths.Length, max = 30;
        var (src, pad, feeds) = Sources(m, lengths, new Random(4));
        using var _ = Autograd.NoGrad();
        var expected = m.Greedy(m.Encode(src, pad), pad, Enumerable.Repeat(max, B).ToArray());

        var memory = Run(encoder, feeds)["last_hidden_state"];
        var memMask = Long("encoder_attention_mask", ((Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>)feeds[^1].Value).ToArray(), B, lengths.Max());
        var pasts = Enumerable.Range(0, 2 * c.DecoderLayers).Select(_ => (Data: Array.Empty<float>(), Shape: new[] { B, c.Heads, 0, c.DModel / c.Heads })).ToArray();
        var outputs = Enumerable.Range(0, B).Select(_ => new List<long>()).ToArray();
        var done = new bool[B];
        var next = Enumerable.Repeat((long)c.Bos, B).ToArray();
        for (int t = 0; t < max && done.Contains(false); t++)
        {
            var step = new List<NamedOnnxValue> { Long("input_ids", next, B, 1), Float("encoder_hidden_states", memory.Data, memory.Shape), memMask };
            for (int i = 0; i < c.DecoderLayers; i++)
            {
                step.Add(Float($"past_key_values.{i}.decoder.key", pasts[2 * i].Data, pasts[2 * i].Shape));
                step.Add(Float($"past_key_values.{i}.decoder.value", pasts[2 * i + 1].Data, pasts[2 * i + 1].Shape));
            }
            var r = Run(decoder, step);
            for (int i = 0; i < c.DecoderLayers; i++) (pasts[2 * i], pasts[2 * i + 1]) = (r[$"present.{i}.decoder.key"], r[$"present.{i}.decoder.value"]);
            for (int b = 0; b < B; b++)
            {
                var row = r["logits"].Data.AsSpan(b * TargetVocab, TargetVocab);
                next[b] = row.IndexOf(row.ToArray().Max());
                if (done[b]) continue;
                if (next[b] == c.Eos) done[b] = true;
                else outputs[b].Add(next[b]);
                if (outputs[b].Count >= max) done[b] = true;
            }
        }
        output.WriteLine($"{kind} opset {opset}: greedy outputs of lengths {string.Join(", ", expected.Select(e => e.Length))} equal");
        Assert.Equal(expected, outputs.Select(o => o.ToArray()).ToArray());
        Assert.Contains(expected, e => e.Length >= 5);                        // the check is not on empty outputs
    }
}
