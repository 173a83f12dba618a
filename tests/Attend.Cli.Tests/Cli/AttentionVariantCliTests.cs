using Attend;
using Attend.Cli;
using Attend.Cli.Dates;
using Attend.Cli.Lm;
using Attend.Cli.Translate;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>The attention variant in the CLI: a task trained with REINFORCE attention, checkpoint configs that record
/// the variant (old ones without it read as soft), and the training commands' --attention errors.</summary>
public class AttentionVariantCliTests
{
    /// <summary>The date model trains with REINFORCE attention (reward supplied by the loop): losses stay finite and fall.</summary>
    [Fact]
    public void DateModelTrainsWithReinforceAttention()
    {
        var cfg = DateConfig.Tiny with { Attention = AttentionVariant.Reinforce };
        var model = new Seq2Seq(cfg.Model, new Random(0));
        var losses = DateTask.Train(model, cfg, seed: 1, steps: 40, seconds: null, reportSeconds: 1000, DateTask.HeldOut(10, 2), TextWriter.Null)
            .Losses.Select(l => l.Loss).ToList();
        Assert.All(losses, l => Assert.True(float.IsFinite(l)));
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() - 0.3, $"loss {losses.Take(5).Average():F3} → {losses.TakeLast(5).Average():F3}");
        var stats = DateTask.CrossAttentionStats(model, DateTask.HeldOut(20, 3));
        Assert.Equal(0.0, stats.MeanEntropy, 6);                                                    // one-hot rows in evaluation
        Assert.True(stats.ZeroFraction > 0.8);
    }

    [Fact]
    public void CheckpointConfigsRecordTheVariantAndOldOnesAreSoft()
    {
        var v = new WordTokenizer(new[] { "a", "b" });
        var tr = new TranslateConfig(TranslatePreset.Tiny, v, v, AttentionVariant.Gumbel(0.5f));
        Assert.Equal(AttentionVariant.Gumbel(0.5f), TranslateConfig.FromJson(tr.ToJson(), "d").Variant);
        var legacy = tr.ToJson().Replace("\"attention\":\"gumbel:0.5\",", "");
        Assert.DoesNotContain("attention", legacy);
        Assert.Equal(AttentionVariant.Soft, TranslateConfig.FromJson(legacy, "d").Variant);
        Assert.Contains("unknown attention variant 'bogus'", Assert.Throws<CliException>(() => TranslateConfig.FromJson(tr.ToJson().Replace("gumbel:0.5", "bogus"), "d")).Message);

        var lm = new LmModelConfig(LmPreset.Tiny, "abc", AttentionVariant.TopK(2));
        Assert.Equal(AttentionVariant.TopK(2), LmModelConfig.FromJson(lm.ToJson(), "d").Variant);
        Assert.Equal(AttentionVariant.TopK(2), LmModelConfig.FromJson(lm.ToJson(), "d").Gpt.Attention);
        Assert.Equal(AttentionVariant.Soft, LmModelConfig.FromJson(lm.ToJson().Replace(",\"attention\":\"topk:2\"", ""), "d").Variant);
    }

    [Theory]
    [InlineData("bogus", "unknown attention variant 'bogus'")]
    [InlineData("topk:0", "k must be ≥ 1, got 0")]
    [InlineData("gumbel:-0.5", "temperature must be > 0 and finite, got -0.5")]
    public void TrainingCommandsRejectBadVariants(string attention, string message)
    {
        var tr = Assert.Throws<CliException>(() => TranslateTraining.Run("/nonexistent.tsv",
            new TrainArgs("/tmp/unused", "tiny", 10, Attention: attention), TextWriter.Null, CancellationToken.None));
        Assert.Contains("--attention", tr.Message);
        Assert.Contains(message, tr.Message);
        var lm = Assert.Throws<CliException>(() => LmTraining.Run("/nonexistent.txt",
            new TrainArgs("/tmp/unused", "tiny", 10, Attention: attention), TextWriter.Null, CancellationToken.None));
        Assert.Contains(message, lm.Message);
    }
}
