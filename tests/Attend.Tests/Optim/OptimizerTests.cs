using Attend.Optim;
using Attend.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests;

/// <summary>
/// Optimizers, schedules and gradient clipping. Against PyTorch: each file in Fixtures/optim (written by
/// tools/oracle/make_optim_fixtures.py) holds two parameters (weight [5,7], bias [7]), 10 gradients for each, and
/// PyTorch's parameter values after every step; clip_* files hold gradients and clip_grad_norm_'s result.
/// Tolerance: |actual − expected| ≤ 1e-6 + 1e-5·|expected| (float32 against PyTorch run in float64).
/// </summary>
public sealed class OptimizerTests(ITestOutputHelper output)
{
    private const double Atol = 1e-6;
    private const double Rtol = 1e-5;
    private const int Steps = 10;
    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "optim");
    private static readonly string[] ParamNames = { "weight", "bias" };

    private sealed record OptimCase(Func<IEnumerable<(string Name, Tensor Param)>, Optimizer> Make, Func<long, double>? Schedule = null);

    // Arguments repeat the Python side's (also in each file's __metadata__).
    private static readonly Dictionary<string, OptimCase> Cases = new()
    {
        ["sgd_plain"] = new(p => new Sgd(p, lr: 0.1)),
        ["sgd_momentum"] = new(p => new Sgd(p, lr: 0.1, momentum: 0.9)),
        ["sgd_nesterov"] = new(p => new Sgd(p, lr: 0.1, momentum: 0.9, nesterov: true)),
        ["sgd_weight_decay"] = new(p => new Sgd(p, lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01)),
        ["sgd_momentum_skip"] = new(p => new Sgd(p, lr: 0.1, momentum: 0.9)),
        ["adam"] = new(p => new Adam(p, lr: 0.01)),
        ["adam_weight_decay"] = new(p => new Adam(p, lr: 0.01, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.1)),
        ["adam_skip"] = new(p => new Adam(p, lr: 0.01)),
        ["adamw"] = new(p => new AdamW(p, lr: 0.01, weightDecay: 0.1)),
        ["adamw_groups"] = new(p => new AdamW(AdamW.Groups(p, 0.1), lr: 0.01, betas: (0.9, 0.95))),
        ["adamw_groups_cosine"] = new(p => new AdamW(AdamW.Groups(p, 0.1), lr: 0.01, betas: (0.9, 0.95)),
            s => Schedules.WarmupCosine(s, maxLr: 0.01, warmupSteps: 3, decaySteps: 8, minLr: 0.001)),
        ["sgd_nesterov_cosine"] = new(p => new Sgd(p, lr: 0.01, momentum: 0.9, nesterov: true),
            s => Schedules.WarmupCosine(s, maxLr: 0.1, warmupSteps: 2, decaySteps: 9, minLr: 0.01)),
    };

    private static readonly Dictionary<string, (float MaxNorm, float NormType)> ClipCases = new()
    {
        ["clip_l2"] = (1.0f, 2f),
        ["clip_l2_noclip"] = (100f, 2f),
        ["clip_l1"] = (2.0f, 1f),
        ["clip_inf"] = (0.5f, float.PositiveInfinity),
        ["clip_p3"] = (1.5f, 3f),
    };

    public static TheoryData<string> OptimCaseNames() => new(Cases.Keys.Order());
    public static TheoryData<string> ClipCaseNames() => new(ClipCases.Keys.Order());

    [Theory]
    [MemberData(nameof(OptimCaseNames))]
    public void Optimizer_MatchesPyTorch(string name)
    {
        var file = SafeTensorsFile.Read(Path.Combine(FixtureDir, name + ".safetensors"));
        var c = Cases[name];
        var ps = ParamNames.ToDictionary(n => n, n => Tensor.FromArray(file[n].ToFloats(), file[n].Shape, requiresGrad: true));
        using var opt = c.Make(ParamNames.Select(n => (n, ps[n])));
        var sched = c.Schedule is null ? null : new LrScheduler(opt, c.Schedule);
        var lrs = file["lr"].ToFloats();
        double worst = 0;
        for (int k = 0; k < Steps; k++)
        {
            Assert.Equal(lrs[k], (float)opt.Lr, 1e-9f);
            foreach (var n in ParamNames)
            {
                ps[n].ZeroGrad();
                if (file[$"has_grad.{n}"].ToBools()[k]) ps[n].Grad = Row(file[$"grad.{n}"], k);
            }
            opt.Step();
            sched?.Step();
            foreach (var n in ParamNames)
                worst = Math.Max(worst, AssertClose(Row(file[$"after.{n}"], k).ToArray(), ps[n].ToArray(), $"{name}: {n} after step {k}"));
        }
        output.WriteLine($"{name}: max |error| over {Steps} steps {worst:e2}");
    }

    [Theory]
    [MemberData(nameof(ClipCaseNames))]
    public void ClipGradNorm_MatchesPyTorch(string name)
    {
        var file = SafeTensorsFile.Read(Path.Combine(FixtureDir, name + ".safetensors"));
        var (maxNorm, normType) = ClipCases[name];
        string[] names = { "weight", "bias", "scale" };
        var ps = names.Select(n =>
        {
            var g = file[$"grad.{n}"];
            var p = Tensor.Zeros(g.Shape);
            p.RequiresGrad = true;
            p.Grad = Tensor.FromArray(g.ToFloats(), g.Shape);
            return p;
        }).ToArray();
        float total = Gradients.ClipGradNorm(ps, maxNorm, normType);
        double worst = AssertClose(file["total_norm"].ToFloats(), new[] { total }, $"{name}: total norm");
        for (int i = 0; i < names.Length; i++)
            worst = Math.Max(worst, AssertClose(file[$"clipped.{names[i]}"].ToFloats(), ps[i].Grad!.ToArray(), $"{name}: clipped {names[i]}"));
        output.WriteLine($"{name}: total {total}, max |error| {worst:e2}");
    }

    [Fact]
    public void EveryFixtureHasACase()
    {
        var files = Directory.GetFiles(FixtureDir, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet();
        var cases = Cases.Keys.Concat(ClipCases.Keys).ToHashSet();
        Assert.True(files.SetEquals(cases),
            $"fixture files without a case: [{string.Join(", ", files.Except(cases))}]; cases without a file: [{string.Join(", ", cases.Except(files))}]");
    }

    // ---- state dict: save after 5 steps, load into a fresh optimizer, 5 more == 10 straight -----------------------

    public static TheoryData<string> ResumableOptimizers() => new("sgd_momentum", "sgd_nesterov", "adam_weight_decay", "adamw_groups_cosine");

    [Theory]
    [MemberData(nameof(ResumableOptimizers))]
    public void StateDict_RoundTrip_ContinuesBitIdentically(string name)
    {
        var c = Cases[name];
        var grads = RandomGrads(seed: 7);

        // 10 steps straight
        var straight = FreshParams();
        using (var opt = c.Make(straight))
        {
            var sched = c.Schedule is null ? null : new LrScheduler(opt, c.Schedule);
            for (int k = 0; k < Steps; k++) Feed(opt, straight, grads, k, sched);
        }

        // 5 steps, save (parameters and optimizer), drop everything, rebuild, load, 5 more
        var first = FreshParams();
        IReadOnlyDictionary<string, Tensor> saved;
        float[][] savedParams;
        using (var opt = c.Make(first))
        {
            var sched = c.Schedule is null ? null : new LrScheduler(opt, c.Schedule);
            for (int k = 0; k < 5; k++) Feed(opt, first, grads, k, sched);
            saved = opt.StateDict();
            savedParams = first.Select(p => p.Param.ToArray()).ToArray();
            Feed(opt, first, grads, 5, sched);   // a later step must not change the snapshot
        }
        var resumed = FreshParams();
        for (int i = 0; i < resumed.Length; i++) resumed[i] = (resumed[i].Name, Tensor.FromArray(savedParams[i], resumed[i].Param.Shape, requiresGrad: true));
        using (var opt = c.Make(resumed))
        {
            opt.LoadStateDict(saved);
            Assert.Equal(5, opt.StepCount);
            var sched = c.Schedule is null ? null : new LrScheduler(opt, c.Schedule);
            for (int k = 5; k < Steps; k++) Feed(opt, resumed, grads, k, sched);
        }
        for (int i = 0; i < straight.Length; i++)
            Assert.Equal(straight[i].Param.ToArray(), resumed[i].Param.ToArray());   // bit for bit
    }

    [Fact]
    public void StateDict_HoldsStepsAndBuffersByParameterName()
    {
        var ps = FreshParams();
        using var opt = new Adam(ps);
        Assert.Equal(new[] { "step" }, opt.StateDict().Keys);   // nothing stepped yet
        ps[0].Param.Grad = Tensor.Ones(5, 7);                  // only the weight has a grad
        opt.Step();
        var sd = opt.StateDict();
        Assert.Equal(new[] { "state.weight.exp_avg", "state.weight.exp_avg_sq", "state.weight.step", "step" }, sd.Keys.Order());
        Assert.Equal(1, sd["step"].ToInt64Array()[0]);
        Assert.Empty(sd["step"].Shape);
        Assert.Equal(new[] { 5, 7 }, sd["state.weight.exp_avg"].Shape);
        Assert.All(sd["state.weight.exp_avg"].ToArray(), v => Assert.Equal(0.1f, v, 1e-7f));   // (1 − β₁)·1
    }

    [Fact]
    public void LoadStateDict_RejectsBadStateAndChangesNothing()
    {
        var ps = FreshParams();
        using var opt = new Adam(ps);
        ps[0].Param.Grad = Tensor.Ones(5, 7);
        ps[1].Param.Grad = Tensor.Ones(7);
        opt.Step();
        var good = opt.StateDict();
        var before = opt.StateDict();

        Dictionary<string, Tensor> With(string key, Tensor? value)
        {
            var d = good.ToDictionary(kv => kv.Key, kv => kv.Value);
            if (value is null) d.Remove(key); else d[key] = value;
            return d;
        }
        void Rejects(Dictionary<string, Tensor> d, string expected)
        {
            var e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(d));
            Assert.Contains(expected, e.Message);
        }
        Rejects(With("state.weight.exp_avg", Tensor.Zeros(7, 5)), "[7, 5]");                        // wrong shape
        Rejects(With("state.bias.exp_avg_sq", Tensor.Zeros(8)), "[8]");
        Rejects(With("state.weight.exp_avg", Tensor.FromArray(new long[35], new[] { 5, 7 })), "int64");
        Rejects(With("state.weight.momentum_buffer", Tensor.Zeros(5, 7)), "keeps no state 'momentum_buffer'");
        Rejects(With("state.head.exp_avg", Tensor.Zeros(5, 7)), "no parameter named 'head'");
        Rejects(With("optimizer.lr", Tensor.Scalar(1f)), "unexpected key 'optimizer.lr'");
        Rejects(With("state.weight.exp_avg_sq", null), "no 'state.weight.exp_avg_sq'");
        Rejects(With("state.bias.step", null), "no 'state.bias.step'");
        Rejects(With("step", null), "no 'step'");
        Rejects(With("step", Tensor.Scalar(1f)), "0-d int64");
        Rejects(With("state.bias.step", Tensor.FromArray(new long[] { -1 }, Array.Empty<int>())), "negative");

        var after = opt.StateDict();   // every rejection happened before anything changed
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var k in before.Keys) Assert.Equal(before[k].ToArray(), after[k].ToArray());
    }

    [Fact]
    public void LoadStateDict_WithoutStateForAParameter_StartsItAfresh()
    {
        var ps = FreshParams();
        using var opt = new Sgd(ps, lr: 0.1, momentum: 0.9);
        foreach (var (_, p) in ps) p.Grad = Tensor.OnesLike(p);
        opt.Step();
        var sd = opt.StateDict().Where(kv => !kv.Key.StartsWith("state.bias.")).ToDictionary(kv => kv.Key, kv => kv.Value);
        opt.LoadStateDict(sd);
        Assert.DoesNotContain(opt.StateDict().Keys, k => k.StartsWith("state.bias."));
        Assert.Contains("state.weight.momentum_buffer", opt.StateDict().Keys);
    }

    // ---- behaviour -----------------------------------------------------------------------------------------------

    [Fact]
    public void ParametersWithoutAGrad_AreSkipped_AndZeroGradDropsGrads()
    {
        var ps = FreshParams();
        var biasBefore = ps[1].Param.ToArray();
        using var opt = new AdamW(ps, lr: 0.1);
        ps[0].Param.Grad = Tensor.Ones(5, 7);
        opt.Step();
        Assert.Equal(biasBefore, ps[1].Param.ToArray());   // no grad: not even decayed
        Assert.DoesNotContain("state.bias.step", opt.StateDict().Keys);
        opt.ZeroGrad();
        Assert.All(ps, np => Assert.Null(np.Param.Grad));
        var weight = ps[0].Param.ToArray();
        opt.Step();                                        // nothing has a grad: nothing moves
        Assert.Equal(weight, ps[0].Param.ToArray());
        Assert.Equal(2, opt.StepCount);
    }

    [Fact]
    public void AdamWGroups_DecayMatricesOnly_AsNanoGpt()
    {
        var w = Tensor.Zeros(4, 3); w.RequiresGrad = true;
        var emb = Tensor.Zeros(10, 4); emb.RequiresGrad = true;
        var b = Tensor.Zeros(3); b.RequiresGrad = true;
        var ln = Tensor.Ones(4); ln.RequiresGrad = true;
        var frozen = Tensor.Zeros(2, 2);
        var groups = AdamW.Groups(new[] { ("w", w), ("emb", emb), ("b", b), ("ln", ln), ("frozen", frozen) }, 0.1);
        Assert.Equal(new[] { "w", "emb" }, groups[0].Parameters.Select(p => p.Name));
        Assert.Equal(new[] { "b", "ln" }, groups[1].Parameters.Select(p => p.Name));
        Assert.Equal(0.1, groups[0].WeightDecay);
        Assert.Equal(0.0, groups[1].WeightDecay);
        using var opt = new AdamW(groups, lr: 1e-3);
        Assert.Equal(0.0, opt.ParamGroups[1].WeightDecay);   // the group's own value beats the default (1e-2)
        Assert.Equal((0.9, 0.999), opt.ParamGroups[0].Betas);  // the default fills what the group left open
    }

    [Fact]
    public void Lr_SetsEveryGroup()
    {
        var ps = FreshParams();
        using var opt = new Sgd(new[] { new ParamGroup(ps.Take(1)) { Lr = 0.5 }, new ParamGroup(ps.Skip(1)) }, lr: 0.1);
        Assert.Equal(0.5, opt.Lr);
        Assert.Equal(0.1, opt.ParamGroups[1].Lr);
        opt.Lr = 0.25;
        Assert.All(opt.ParamGroups, g => Assert.Equal(0.25, g.Lr));
    }

    [Fact]
    public void Step_AllocatesNothing()
    {
        var ps = Enumerable.Range(0, 4).Select(i => ($"p{i}", Tensor.Randn(i < 2 ? new[] { 64, 33 } : new[] { 33 }, new Random(i)))).ToArray();
        foreach (var (_, p) in ps) { p.RequiresGrad = true; p.Grad = Tensor.Randn(p.Shape, new Random(9)); }
        Optimizer[] opts =
        {
            new AdamW(AdamW.Groups(ps, 0.1), lr: 1e-3), new Adam(ps, weightDecay: 0.1), new Sgd(ps, lr: 0.1, momentum: 0.9, nesterov: true),
        };
        foreach (var opt in opts)
        {
            opt.Step(); opt.Step();   // state allocated, code jitted
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) opt.Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            opt.Dispose();
        }
    }

    [Fact]
    public void StateOutlivesTheScopeOfTheStepThatMadeIt()
    {
        var ps = FreshParams();
        using var opt = new Adam(ps);
        foreach (var (_, p) in ps) p.Grad = Tensor.OnesLike(p);   // grads are never scope-owned (Backward unhooks them)
        using (Tensor.NewScope()) opt.Step();
        opt.Step();   // the exp_avg buffers allocated inside the scope are still alive
        Assert.Equal(2, opt.StateDict()["state.weight.step"].ToInt64Array()[0]);
    }

    [Fact]
    public void ClipGradNorm_NonFinite_ThrowsAndLeavesGradsAlone_OrScalesWhenAskedTo()
    {
        var p = Tensor.Zeros(3); p.RequiresGrad = true;
        p.Grad = Tensor.FromArray(new[] { 1f, float.NaN, 2f }, new[] { 3 });
        var e = Assert.Throws<InvalidOperationException>(() => Gradients.ClipGradNorm(new[] { p }, 1f));
        Assert.Contains("NaN", e.Message);
        Assert.Equal(1f, p.Grad.ToArray()[0]);
        Assert.True(float.IsNaN(Gradients.ClipGradNorm(new[] { p }, 1f, errorIfNonfinite: false)));
        Assert.All(p.Grad.ToArray(), v => Assert.True(float.IsNaN(v)));

        var q = Tensor.Zeros(2); q.RequiresGrad = true;
        q.Grad = Tensor.FromArray(new[] { float.PositiveInfinity, 3f }, new[] { 2 });
        Assert.Throws<InvalidOperationException>(() => Gradients.ClipGradNorm(new[] { q }, 1f, float.PositiveInfinity));
        Assert.Equal(float.PositiveInfinity, Gradients.ClipGradNorm(new[] { q }, 1f, errorIfNonfinite: false));
        Assert.Equal(new[] { float.NaN, 0f }, q.Grad.ToArray());   // as PyTorch: ∞·0 = NaN, 3·0 = 0
    }

    [Fact]
    public void ClipGradNorm_NoGrads_ReturnsZero_AndBadArgumentsThrow()
    {
        var p = Tensor.Zeros(3); p.RequiresGrad = true;
        Assert.Equal(0f, Gradients.ClipGradNorm(new[] { p }, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gradients.ClipGradNorm(new[] { p }, -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gradients.ClipGradNorm(new[] { p }, float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gradients.ClipGradNorm(new[] { p }, 1f, normType: 0f));
    }

    // ---- schedules -----------------------------------------------------------------------------------------------

    [Fact]
    public void WarmupCosine_FollowsNanoGptGetLr()
    {
        static double Lr(long s) => Schedules.WarmupCosine(s, maxLr: 1.0, warmupSteps: 10, decaySteps: 110, minLr: 0.1);
        Assert.Equal(1.0 / 11, Lr(0), 15);            // (it + 1) / (warmup + 1)
        Assert.Equal(10.0 / 11, Lr(9), 15);
        Assert.Equal(1.0, Lr(10), 15);                // cosine starts at the top
        Assert.Equal(0.1 + 0.5 * (1 + Math.Cos(Math.PI * 0.25)) * 0.9, Lr(35), 15);
        Assert.Equal(0.55, Lr(60), 15);               // half way: the midpoint
        Assert.Equal(0.1, Lr(110), 15);
        Assert.Equal(0.1, Lr(1_000_000), 15);
        for (long s = 10; s < 110; s++) Assert.True(Lr(s + 1) <= Lr(s));
        Assert.Equal(1.0, Schedules.WarmupCosine(0, 1.0, 0, 10, 0.0), 15);   // no warmup
    }

    [Fact]
    public void InverseSqrt_IsTheNoamSchedule()
    {
        static double Lr(long s) => Schedules.InverseSqrt(s, dModel: 512, warmupSteps: 4000);
        Assert.Equal(Lr(1), Lr(0));
        Assert.Equal(Math.Pow(512, -0.5) * 1 * Math.Pow(4000, -1.5), Lr(1), 15);
        Assert.Equal(Math.Pow(512, -0.5) * Math.Pow(4000, -0.5), Lr(4000), 15);   // the peak
        Assert.Equal(Math.Pow(512, -0.5) * Math.Pow(16000, -0.5), Lr(16000), 15);
        Assert.Equal(2 * Lr(100), Schedules.InverseSqrt(100, 512, 4000, factor: 2), 15);
        Assert.True(Lr(3999) < Lr(4000) && Lr(4001) < Lr(4000));
    }

    [Fact]
    public void ConstantWithWarmup_RampsThenHolds()
    {
        Assert.Equal(0.5 * 1 / 5, Schedules.ConstantWithWarmup(0, 0.5, 4), 15);
        Assert.Equal(0.5 * 4 / 5, Schedules.ConstantWithWarmup(3, 0.5, 4), 15);
        Assert.Equal(0.5, Schedules.ConstantWithWarmup(4, 0.5, 4), 15);
        Assert.Equal(0.5, Schedules.ConstantWithWarmup(0, 0.5, 0), 15);
    }

    [Fact]
    public void LrScheduler_SetsTheLrOfTheNextStep()
    {
        var ps = FreshParams();
        using var opt = new Sgd(ps, lr: 123);
        var sched = new LrScheduler(opt, s => 0.1 * (s + 1));
        Assert.Equal(0.1, opt.Lr, 15);
        opt.Step();
        Assert.Equal(0.2, sched.Step(), 15);
        Assert.Equal(0.2, opt.Lr, 15);
        Assert.Equal(0.2, sched.Step(), 15);   // idempotent: it reads the optimizer's StepCount
        Assert.Throws<ArgumentOutOfRangeException>(() => new LrScheduler(opt, _ => -1));
    }

    [Fact]
    public void Schedules_RejectBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.WarmupCosine(-1, 1, 0, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.WarmupCosine(0, 1, 10, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.WarmupCosine(0, -1, 0, 10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.InverseSqrt(0, 0, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.InverseSqrt(0, 512, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Schedules.ConstantWithWarmup(0, double.NaN, 1));
    }

    // ---- bad input -----------------------------------------------------------------------------------------------

    [Fact]
    public void BadHyperParameters_Throw()
    {
        var ps = FreshParams();
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, lr: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, lr: -1e-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, lr: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, betas: (1.0, 0.999)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, betas: (-0.1, 0.999)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, betas: (0.9, 1.0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(ps, eps: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, eps: -1e-8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(ps, weightDecay: -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(ps, lr: 0.1, momentum: -0.9));
        var e = Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: 0.1, nesterov: true));
        Assert.Contains("Nesterov", e.Message);
        Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true));

        using var opt = new Adam(ps);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.Lr = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => opt.ParamGroups[0].Betas = (0.9, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParamGroup(ps) { Eps = 0 });
    }

    [Fact]
    public void BadParameters_Throw()
    {
        var w = Tensor.Zeros(2, 2); w.RequiresGrad = true;
        var b = Tensor.Zeros(2); b.RequiresGrad = true;
        void Rejects(IEnumerable<(string, Tensor)> ps, string expected)
        {
            var e = Assert.Throws<ArgumentException>(() => new AdamW(ps));
            Assert.Contains(expected, e.Message);
        }
        Rejects(new[] { ("w", w), ("w2", w) }, "already listed");                                   // same tensor twice
        Rejects(new[] { ("w", w), ("w", b) }, "listed twice");                                      // same name twice
        Rejects(new[] { ("ids", Tensor.FromArray(new long[] { 1, 2 }, new[] { 2 })) }, "int64");   // wrong dtype
        Rejects(new[] { ("mask", Tensor.FromArray(new[] { true }, new[] { 1 })) }, "bool");
        Rejects(new[] { ("y", w * 2f) }, "not a leaf");
        Rejects(new[] { ("wt", w.Detach().T) }, "not contiguous");
        Rejects(Array.Empty<(string, Tensor)>(), "empty parameter list");
        Rejects(new[] { ("", w) }, "empty name");

        var e = Assert.Throws<ArgumentException>(() => new Sgd(new[] { new ParamGroup(new[] { ("w", w) }), new ParamGroup(new[] { ("w", w) }) }, lr: 0.1));
        Assert.Contains("listed twice", e.Message);   // across groups
        using var opt = new Sgd(new[] { ("w", w) }, lr: 0.1);
        Assert.Throws<ArgumentException>(() => opt.AddParamGroup(new ParamGroup(new[] { ("w again", w) })));
        opt.AddParamGroup(new ParamGroup(new[] { ("b", b) }) { Lr = 0.01 });
        Assert.Equal(2, opt.ParamGroups.Count);
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    /// <summary>Asserts |a − e| ≤ atol + rtol·|e| everywhere, printing the worst element on failure; returns the max |a − e|.</summary>
    private static double AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0, worstExcess = double.NegativeInfinity;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(d)) d = double.PositiveInfinity;
            worst = Math.Max(worst, d);
            double excess = d - (Atol + Rtol * Math.Abs(expected[i]));
            if (excess > worstExcess) { worstExcess = excess; at = i; }
        }
        Assert.True(worstExcess <= 0,
            $"{what}: element {at} is {actual[at]:R}, expected {expected[at]:R} (|diff| {Math.Abs(actual[at] - expected[at]):e2}, " +
            $"allowed {Atol + Rtol * Math.Abs(expected[at]):e2}); first values {string.Join(", ", actual.Take(4))} vs {string.Join(", ", expected.Take(4))}");
        return worst;
    }

    private static Tensor Row(SafeTensorEntry e, int k)
    {
        var shape = e.Shape[1..];
        int n = shape.Aggregate(1, (a, b) => a * b);
        return Tensor.FromArray(e.ToFloats().AsSpan(k * n, n).ToArray(), shape);
    }

    private static (string Name, Tensor Param)[] FreshParams()
    {
        var rng = new Random(3);
        var w = Tensor.Randn(new[] { 5, 7 }, rng); w.RequiresGrad = true;
        var b = Tensor.Randn(new[] { 7 }, rng); b.RequiresGrad = true;
        return new[] { ("weight", w), ("bias", b) };
    }

    private static float[][][] RandomGrads(int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, Steps).Select(_ => new[] { 35, 7 }.Select(n =>
            Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray()).ToArray();
    }

    /// <summary>One step with gradients grads[k] (the bias skips step 3, to carry per-parameter step counts across).</summary>
    private static void Feed(Optimizer opt, (string Name, Tensor Param)[] ps, float[][][] grads, int k, LrScheduler? sched)
    {
        for (int i = 0; i < ps.Length; i++)
        {
            ps[i].Param.ZeroGrad();
            if (!(i == 1 && k == 3)) ps[i].Param.Grad = Tensor.FromArray(grads[k][i], ps[i].Param.Shape);
        }
        opt.Step();
        sched?.Step();
    }
}
