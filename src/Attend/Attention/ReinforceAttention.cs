namespace Attend.Attention;

/// <summary>
/// The training loop's side of REINFORCE attention (<see cref="AttentionVariant.Reinforce"/>): while
/// <see cref="Collect"/> is active on a thread, every reinforce attention call there records its scores, probabilities
/// and sampled positions; <see cref="Loss"/> turns them and the loop's reward into the surrogate loss to add:
/// <code>
/// var rl = new ReinforceAttention();                   // once
/// using (rl.Collect()) logits = model.Forward(…);      // each step
/// var reward = perSequenceLoss.Detach().Neg();         // [B], higher is better
/// var loss = taskLoss + rl.Loss(reward);               // −(1/B) Σ (r_b − baseline)·log p(samples of b) − β·mean entropy
/// loss.Backward();
/// </code>
/// The baseline is a moving average of the mean reward (starting at 0), updated after each use so it never depends on
/// the samples it is subtracted from. A backward through reinforce attention whose samples got no reward throws.
/// </summary>
public sealed class ReinforceAttention
{
    [ThreadStatic] private static ReinforceAttention? current;
    private readonly List<Record> records = new();

    /// <summary>Weight of the old baseline in the moving average, in [0, 1).</summary>
    public float BaselineMomentum { get; }
    /// <summary>β, the weight of the mean attention entropy subtracted from the loss (exploration), ≥ 0.</summary>
    public float EntropyBonus { get; }
    /// <summary>The current baseline (a moving average of the mean reward).</summary>
    public double Baseline { get; private set; }
    /// <summary>Attention calls recorded since the last <see cref="Loss"/>.</summary>
    public int PendingCalls => records.Count;

    /// <summary>A collector with its own reward baseline (starting at 0).</summary>
    /// <param name="baselineMomentum">Weight of the old baseline in its moving average, in [0, 1).</param>
    /// <param name="entropyBonus">β, the weight of the mean attention entropy subtracted from the loss; finite, ≥ 0.</param>
    public ReinforceAttention(float baselineMomentum = 0.9f, float entropyBonus = 0.01f)
    {
        if (!(baselineMomentum >= 0 && baselineMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(baselineMomentum), $"ReinforceAttention: baseline momentum must be in [0, 1), got {baselineMomentum}");
        if (!(entropyBonus >= 0) || float.IsInfinity(entropyBonus))
            throw new ArgumentOutOfRangeException(nameof(entropyBonus), $"ReinforceAttention: entropy bonus must be ≥ 0 and finite, got {entropyBonus}");
        (BaselineMomentum, EntropyBonus) = (baselineMomentum, entropyBonus);
    }

    /// <summary>Records the reinforce attention calls made on this thread until the returned scope is disposed.</summary>
    public IDisposable Collect()
    {
        var outer = current;
        current = this;
        return new OnDispose(() => current = outer);
    }

    internal static ReinforceAttention? Current => current;

    /// <summary>One reinforce attention call: scores (B·rowsPerBatch rows of n), p = softmax(scores), the sampled index per row.</summary>
    internal sealed class Record(Tensor scores, Tensor probs, int[] choice, int batch, int n)
    {
        public Tensor Scores { get; } = scores;
        public Tensor Probs { get; } = probs;
        public int[] Choice { get; } = choice;
        public int Batch { get; } = batch;
        public int N { get; } = n;
        public bool Rewarded { get; set; }
    }

    internal Record Add(Tensor scores, Tensor probs, int[] choice, int batch, int n)
    {
        var r = new Record(scores, probs, choice, batch, n);
        records.Add(r);
        return r;
    }

    /// <summary>
    /// The REINFORCE surrogate for the calls recorded since the last Loss, given one reward per batch element
    /// (<paramref name="reward"/> [B], float32, treated as a constant): a scalar to add to the training loss. Its gradient
    /// reaches the attention scores; the baseline then moves toward the batch's mean reward.
    /// </summary>
    public unsafe Tensor Loss(Tensor reward)
    {
        ArgumentNullException.ThrowIfNull(reward, nameof(reward));
        if (reward.DType != DType.Float32 || reward.Rank != 1)
            throw new ArgumentException($"ReinforceAttention.Loss: reward must be a float32 vector [B], got {reward.DType.Name()} {Shapes.Str(reward.ShapeRef)}");
        if (records.Count == 0)
            throw new InvalidOperationException("ReinforceAttention.Loss: no reinforce attention was recorded; run the forward inside Collect() with AttentionVariant.Reinforce");
        var rv = reward.ToArray();
        if (rv.Any(x => !float.IsFinite(x))) throw new ArgumentException("ReinforceAttention.Loss: reward has a NaN or infinite entry");
        foreach (var rec in records)
            if (rec.Batch != rv.Length)
                throw new ArgumentException($"ReinforceAttention.Loss: reward has {rv.Length} entries but the attention ran on batch {rec.Batch} (scores {Shapes.Str(rec.Scores.ShapeRef)})");
        var adv = rv.Select(x => x - Baseline).ToArray();
        var taken = records.ToArray();
        records.Clear();
        int B = rv.Length;
        double policy = 0, entropy = 0; int valid = 0;
        foreach (var rec in taken)
        {
            rec.Rewarded = true;
            int rows = rec.Choice.Length;
            fixed (int* ch = rec.Choice)
                Kernels.Reinforce.LossForward(ref policy, ref entropy, ref valid, rec.Probs.Data, ch, rows, rec.N, rows / B, adv, B);
        }
        double beta = EntropyBonus;
        var loss = Tensor.FromArray(new[] { (float)(policy - (valid == 0 ? 0 : beta * entropy / valid)) }, Array.Empty<int>());
        Baseline = BaselineMomentum * Baseline + (1 - BaselineMomentum) * rv.Average();
        return loss.WithGrad("reinforce_loss", taken.Select(r => r.Scores).ToArray(), g =>
        {
            float gv = g.Item();
            return taken.Select(rec =>
            {
                var ds = Tensor.Empty(rec.Scores.ShapeRef);
                int rows = rec.Choice.Length;
                fixed (int* ch = rec.Choice)
                    Kernels.Reinforce.LossBackward(ds.Data, gv, rec.Probs.Data, ch, rows, rec.N, rows / B, adv, B, beta, valid);
                return (Tensor?)ds;
            }).ToArray();
        });
    }
}
