namespace Attend.Training;

/// <summary>Rewards for REINFORCE attention (<see cref="StepLoss.Reward"/>).</summary>
public static class Rewards
{
    /// <summary>Minus each sequence's mean token cross-entropy, padding (<paramref name="ignoreIndex"/>) left out: [B], no
    /// gradient. logits (B, T, V), labels (B, T) int64.</summary>
    public static Tensor NegativeTokenLoss(Tensor logits, Tensor labels, long ignoreIndex)
    {
        int B = labels.Shape[0], T = labels.Shape[1], V = logits.Shape[2];
        float[] ce;
        using (Autograd.NoGrad())
            ce = Functional.CrossEntropy(logits.Reshape(-1, V), labels.Reshape(-1), ignoreIndex: (int)ignoreIndex, reduction: Reduction.None).ToArray();   // (B·T)
        var lab = labels.ToInt64Array();
        var r = new float[B];
        for (int b = 0; b < B; b++)
        {
            double sum = 0; int n = 0;
            for (int t = 0; t < T; t++) if (lab[b * T + t] != ignoreIndex) { sum += ce[b * T + t]; n++; }
            r[b] = n == 0 ? 0f : (float)(-sum / n);
        }
        return Tensor.FromArray(r, [B]);
    }
}
