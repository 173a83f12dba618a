using Attend;
using Attend.Nn;

/// <summary>Module-level cases of DESIGN.md, matching the peer's workloads.</summary>
static class ModuleCases
{
    /// <summary>mha-fwd: nn.MultiheadAttention self-attention, E = 512, 8 heads, batch 8, seq 256, batch-first, eval,
    /// no grad, needWeights false. FLOPs: in-projection 3·2·B·L·E², attention 4·B·L²·E, out-projection 2·B·L·E².</summary>
    /// <param name="capture">run each forward inside an <see cref="Attend.Interpret.AttentionCapture"/> of every head
    /// (case mha-fwd:capture): what recording the weights costs when it is on.</param>
    public static Program.Result MhaForward(bool capture = false)
    {
        const int B = 8, L = 256, E = 512, H = 8;
        var mha = new MultiheadAttention(E, H, batchFirst: true, rng: new Random(1));
        mha.Eval();
        var x = Tensor.Randn(new[] { B, L, E }, new Random(2));
        using var _ = Autograd.NoGrad();
        var (med, min, reps) = Program.Bench(() =>
        {
            using var scope = Tensor.NewScope();
            using var cap = capture ? Attend.Interpret.AttentionCapture.Start(mha) : null;
            mha.Forward(x, x, x, needWeights: false);
        });
        double flops = 8.0 * B * L * (double)E * E + 4.0 * B * L * (double)L * E;
        return new Program.Result(med, min, reps, flops);
    }
}
