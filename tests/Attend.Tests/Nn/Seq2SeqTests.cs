using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>The encoder-decoder every sequence task shares, and the one KV cache: decoding with the cache equals decoding
/// the whole prefix, beam width 1 is greedy, Generate batches by length, frame sources subsample, the cache grows and
/// reorders, module paths name attention sites.</summary>
public class Seq2SeqTests
{
    static Seq2Seq Tiny(int seed = 0, int? eos = 2) =>
        new(new Seq2SeqConfig(SourceVocab: 11, TargetVocab: 9, DModel: 16, Heads: 2, EncoderLayers: 1, DecoderLayers: 2, FeedForward: 32,
            MaxSource: 12, MaxTarget: 10, Eos: eos), new Random(seed));

    static long[][] Sources(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, rng.Next(1, 9)).Select(_ => (long)rng.Next(1, 11)).ToArray()).ToArray();
    }

    [Fact]
    public void CachedGreedyDecodingEqualsTheUncachedOneAndBeamWidthOneIsGreedy()
    {
        var m = Tiny(eos: null);                               // fixed length: nothing stops early, every position is compared
        var src = Sources(7, 1);
        var cached = m.Generate(src, _ => 9, chunk: 3);
        Assert.Equal(m.Generate(src, _ => 9, useCache: false), cached);
        Assert.All(cached, o => Assert.Equal(9, o.Length));
        Assert.Equal(cached, src.Select(s => m.Generate([s], _ => 9)[0]));   // batched (padded) = one at a time
        using var noGrad = Autograd.NoGrad();
        m.Eval();
        for (int i = 0; i < 3; i++)
        {
            var (ids, pad) = m.PadSources([src[i]]);
            Assert.Equal(cached[i], m.Beam(m.Encode(ids, pad), pad, width: 1, lengthPenalty: 0.6, maxLength: 9));
        }
        Assert.True(m.Training is false);
    }

    [Fact]
    public void OutputsStopAtEosOrTheirOwnLimitAndTheModeIsRestored()
    {
        var m = Tiny(3);
        m.Train();
        var src = Sources(5, 2);
        var out1 = m.Generate(src, len => len);
        Assert.True(m.Training);
        for (int i = 0; i < src.Length; i++) Assert.InRange(out1[i].Length, 0, src[i].Length);
        Assert.All(out1.SelectMany(o => o), t => Assert.NotEqual(2L, t));     // EOS is never part of an output
    }

    [Fact]
    public void FrameSourcesAreSubsampledAndNamesFollowTheConfig()
    {
        var m = new Seq2Seq(new Seq2SeqConfig(0, 7, DModel: 8, Heads: 2, EncoderLayers: 1, DecoderLayers: 1, FeedForward: 16, MaxSource: 5,
            MaxTarget: 6, Positions: Seq2SeqPositions.Sinusoidal, SourceFeatures: 3, Subsampling: 4, CtcHead: true), new Random(1));
        var names = m.StateDict().Keys.ToArray();
        Assert.Contains("subsample.sub1.weight", names);
        Assert.Contains("ctc.weight", names);
        Assert.DoesNotContain(names, n => n.StartsWith("src_emb") || n.StartsWith("src_pos"));
        Assert.Equal(3, m.EncoderLength(9));
        var mem = m.Encode(Tensor.Randn([2, 12, 3], new Random(2)), Tensor.Zeros(2, 3).Gt(1f));
        Assert.Equal(new[] { 2, 3, 8 }, mem.Shape);
        Assert.Equal(new[] { 3, 2, 7 }, m.CtcLogProbs(mem).Shape);
        Assert.Contains("at most 5", Assert.Throws<ArgumentException>(() => m.Encode(Tensor.Randn([1, 24, 3]), Tensor.Zeros(1, 6).Gt(1f))).Message);
        Assert.Throws<ArgumentException>(() => new Seq2Seq(new Seq2SeqConfig(5, 7, SourceFeatures: 3)));
        Assert.Equal("transformer.decoder.layers.1.multihead_attn", Tiny().DecoderLayers[1].MultiheadAttn.Path);
    }

    [Fact]
    public void TheCacheGrowsPastItsCapacityAndReordersRows()
    {
        using var noGrad = Autograd.NoGrad();
        var mha = new MultiheadAttention(8, 2, batchFirst: true, rng: new Random(4));
        mha.Eval();
        var x = Tensor.Randn([3, 7, 8], new Random(5));
        var full = mha.Forward(x, x, x, needWeights: false, isCausal: true).Output.ToArray();
        using var cache = new KvCache(capacity: 2);                    // grows 2 → 4 → 8 along the way
        var steps = Enumerable.Range(0, 7).Select(t => { var xs = x.Narrow(1, t, 1); return mha.Forward(xs, xs, xs, cache, isCausal: true).Output; }).ToList();
        var got = Tensor.Cat(steps, 1).ToArray();
        for (int i = 0; i < full.Length; i++) Assert.True(Math.Abs(full[i] - got[i]) < 1e-5f, $"{i}: {got[i]} vs {full[i]}");
        Assert.Equal(7, cache.Length);

        // rows 2, 0, 0: the next step of each row now continues the picked row's prefix
        cache.Reorder([2, 0, 0]);
        var next = Tensor.Randn([3, 1, 8], new Random(6));
        var a = mha.Forward(next, next, next, cache, isCausal: true).Output.ToArray();
        using var one = new KvCache();
        var x2 = x.Narrow(0, 2, 1).Contiguous();
        mha.Forward(x2, x2, x2, one, isCausal: true);
        var n0 = next.Narrow(0, 0, 1).Contiguous();
        var b = mha.Forward(n0, n0, n0, one, isCausal: true).Output.ToArray();
        for (int i = 0; i < 8; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Reorder([0, 1]));
        Assert.Throws<InvalidOperationException>(() => mha.Forward(next, next, next, cache, cross: true));
    }
}
