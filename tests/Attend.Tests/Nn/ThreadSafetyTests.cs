using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// Inference on one model from several threads at once (as a web server does) gives, bit for bit, what one thread gives:
/// a GPT (RoPE, and generation with a KV cache each), an encoder-decoder (greedy decoding), a BERT encoder and a ViT, each
/// run by 8 threads — more than the cores, so the kernels' thread pool is shared and busy — on inputs in shuffled order.
/// The rotary tables growing under concurrent readers are included.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class ThreadSafetyTests
{
    const int Threads = 8, Rounds = 3;

    /// <summary>Runs <paramref name="run"/> on every input once on this thread, then from <see cref="Threads"/> threads at once,
    /// each over all inputs <see cref="Rounds"/> times in its own shuffled order, and asserts the outputs are equal (to
    /// <paramref name="reference"/>'s, when given, instead of the first pass's).</summary>
    static void SameFromManyThreads<TIn>(IReadOnlyList<TIn> inputs, Func<TIn, float[]> run, Func<TIn, float[]>? reference = null)
    {
        var want = inputs.Select(reference ?? run).ToArray();
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var order = Enumerable.Range(0, inputs.Count).OrderBy(_ => Random.Shared.Next()).ToArray();
            start.SignalAndWait();
            try
            {
                for (int round = 0; round < Rounds; round++)
                    foreach (int i in order)
                        if (!run(inputs[i]).AsSpan().SequenceEqual(want[i])) errors.Add($"thread {t}, round {round}, input {i}: a different output");
            }
            catch (Exception e) { errors.Add($"thread {t}: {e.GetType().Name}: {e.Message}"); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
    }

    static long[] Ids(Random rng, int n, int vocab) => Enumerable.Range(0, n).Select(_ => (long)rng.Next(vocab)).ToArray();

    [Fact]
    public void A_gpt_forward_and_cached_generation_from_many_threads_equal_one_thread()
    {
        var gpt = new Gpt(new GptConfig(BlockSize: 64, VocabSize: 50, NLayer: 2, NHead: 4, NEmbd: 32, Positions: PositionKind.Rope, TokenShift: true), new Random(1));
        gpt.Eval();
        var rng = new Random(2);
        var inputs = Enumerable.Range(0, 12).Select(i => Ids(rng, 2 * (8 + i * 4), 50)).ToArray();   // (2, 8 … 52)
        SameFromManyThreads(inputs, ids =>
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            return gpt.Forward(Tensor.FromArray(ids, [2, ids.Length / 2])).Logits.ToArray();
        });
        SameFromManyThreads(inputs.Take(6).ToArray(), ids =>
            gpt.Generate(Tensor.FromArray(ids, [2, ids.Length / 2]), 10, topK: 1).ToInt64Array().Select(v => (float)v).ToArray());
    }

    [Fact]
    public void Rotary_tables_that_grow_while_other_threads_read_them_give_the_same_rotations()
    {
        var x = Tensor.Randn([1, 2, 6, 8], new Random(3));
        var fresh = new RotaryEmbedding(8, maxPositions: 4096);
        var inputs = Enumerable.Range(0, 60).Select(i => i * 61).ToArray();            // offsets up to 3,599
        for (int trial = 0; trial < 5; trial++)
        {
            var rope = new RotaryEmbedding(8, maxPositions: 4);                          // grows 4 → 4,096 while the threads read it
            SameFromManyThreads(inputs, offset =>
            {
                using var noGrad = Autograd.NoGrad();
                using var scope = Tensor.NewScope();
                return rope.Forward(x, offset).ToArray();
            }, reference: offset => { using var noGrad = Autograd.NoGrad(); return fresh.Forward(x, offset).ToArray(); });
        }
    }

    [Fact]
    public void An_encoder_decoder_bert_and_vit_from_many_threads_equal_one_thread()
    {
        var s2s = new Seq2Seq(new Seq2SeqConfig(SourceVocab: 20, TargetVocab: 15, DModel: 32, Heads: 4, EncoderLayers: 2, DecoderLayers: 2, FeedForward: 64,
            MaxSource: 24, MaxTarget: 16, Eos: 2), new Random(4));
        s2s.Eval();
        var rng = new Random(5);
        var sources = Enumerable.Range(0, 10).Select(i => Enumerable.Range(0, 3 + i % 7).Select(_ => (long)rng.Next(3, 20)).ToArray()).ToArray();
        SameFromManyThreads(sources, src => s2s.Generate([src], _ => 12)[0].Select(v => (float)v).ToArray());

        var bert = new Bert(new BertConfig(VocabSize: 60, HiddenSize: 32, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 64, MaxPositionEmbeddings: 40), rng: new Random(6));
        bert.Eval();
        var sentences = Enumerable.Range(0, 10).Select(i => Ids(rng, 5 + 3 * i, 60)).ToArray();
        SameFromManyThreads(sentences, ids =>
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            return bert.Forward(Tensor.FromArray(ids, [1, ids.Length])).ToArray();
        });

        var vit = new VisionTransformer(new VitConfig(ImageSize: 16, PatchSize: 4, Channels: 3, NumClasses: 5, Dim: 32, Depth: 2, NHead: 4), new Random(7));
        vit.Eval();
        var images = Enumerable.Range(0, 8).Select(i => Tensor.Rand([2, 3, 16, 16], new Random(10 + i)).ToArray()).ToArray();
        SameFromManyThreads(images, pixels =>
        {
            using var noGrad = Autograd.NoGrad();
            using var scope = Tensor.NewScope();
            return vit.Forward(Tensor.FromArray(pixels, [2, 3, 16, 16])).ToArray();
        });
    }
}
