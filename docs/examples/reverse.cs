#:project ../../src/Attend/Attend.csproj
// A Transformer learns to reverse digit strings ("31415" → "51413") with the library's own training loop; then its
// cross-attention shows what it learned: output position t looks at input position n − 1 − t.
// Run: dotnet run -c Release docs/examples/reverse.cs
using Attend;
using Attend.Data;
using Attend.Interpret;
using Attend.Nn;
using Attend.Training;

var tok = new CharTokenizer("0123456789", ["<pad>", "<bos>", "<eos>"]);                   // ids: pad 0, BOS 1, EOS 2, digits
var model = new Seq2Seq(new Seq2SeqConfig(tok.VocabSize, tok.VocabSize, DModel: 64, Heads: 4, MaxSource: 12, MaxTarget: 13), new Random(0));
using var trainer = new Trainer(model, new TrainerOptions { Steps = 600, Lr = 3e-3, MinLr = 1e-4, WarmupSteps = 50, LogEvery = 100 });
trainer.Reported += r => Console.WriteLine($"step {r.Step,4}  loss {r.Loss:F4}  {r.Seconds,5:F1} s");
trainer.Run((step, _) =>                                                                   // one batch of step `step`
{
    var texts = Digits(SplitMix64.ForStep(trainer.Seed, step), 64);                        // a function of (seed, step)
    var (src, pad) = SequenceBatch.Pad(texts.Select(t => tok.Encode(t)).ToArray());       // (B, S)
    var (input, labels) = SequenceBatch.TeacherForcing(texts.Select(t => tok.Encode(Reverse(t))).ToArray(), bos: 1, eos: 2);
    var logits = model.Forward(src, pad, input);                                          // (B, T, V)
    return new StepLoss(Functional.CrossEntropy(logits.Reshape(-1, tok.VocabSize), labels.Reshape(-1), ignoreIndex: 0));
});

var (x, mask) = SequenceBatch.Pad([tok.Encode("2718281828")]);
var output = model.Generate([tok.Encode("2718281828")], n => n + 1)[0];                  // greedy, on the KV cache
using (var capture = AttentionCapture.Start(model, site => site.EndsWith("multihead_attn")))
{
    model.Forward(x, mask, SequenceBatch.TeacherForcing([output], bos: 1, eos: 2).Input);  // records every cross-attention map
    var w = AttentionAnalysis.Mean(capture.Records[^1].Maps());                           // last decoder layer, mean of heads: (T, S)
    Console.WriteLine($"2718281828 → {tok.Decode(output)}\nwhere each output digit looks (last decoder layer, mean of heads):");
    Console.WriteLine("     " + string.Join(" ", "2718281828".ToCharArray()));
    for (int t = 0; t < output.Length; t++)
        Console.WriteLine($"  {tok.Decode([output[t]])}  " + string.Concat(Enumerable.Range(0, 10).Select(s => w[t, s] > 0.5 ? "█ " : w[t, s] > 0.2 ? "▒ " : "· ")));
}

// Random strings of 4–10 digits, and a string reversed.
static string[] Digits(SplitMix64 rng, int n) =>
    Enumerable.Range(0, n).Select(_ => string.Concat(Enumerable.Range(0, 4 + rng.NextInt(7)).Select(_ => rng.NextInt(10)))).ToArray();
static string Reverse(string s) => new(s.Reverse().ToArray());
