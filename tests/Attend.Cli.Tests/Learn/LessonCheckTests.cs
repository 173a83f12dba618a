using Xunit;
using Xunit.Abstractions;

namespace Attend.Cli.Tests;

/// <summary>The guide's checker on pages made up here: it passes a faithful quote, and names what is wrong in a stale
/// quote, a figure out of its tolerance, a missing file and a symbol that is gone.</summary>
public sealed class LessonCheckTests(ITestOutputHelper output)
{
    private const string Output = """
        step   0  loss 2.340
        step 100  loss 0.083
        step 200  loss 0.135
        held-out sequences sorted exactly: 492 of 500
        RoPE score at (2, 0): -4.1823, (7, 5): -4.1823
        """;

    private static string Page(string marker, params string[] lines) => $"# A lesson\n\n{marker}\n```text\n{string.Join("\n", lines)}\n```\n";

    [Fact]
    public void A_faithful_quote_passes_and_one_unit_of_the_last_digit_is_allowed()
    {
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output -->", "step 100  loss 0.083", "step 200  loss 0.135"), Output));
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output -->", "step 100  loss 0.084"), Output));           // a rounding flip
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output -->", "step   0  loss 2.340", "...", "held-out sequences sorted exactly: 492 of 500"), Output));
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output -->", "RoPE score at (2, 0): -4.1823, (7, 5): -4.1823"), Output));
    }

    [Fact]
    public void A_stale_quote_is_caught_with_the_figure_that_changed()
    {
        var errors = LessonCheck.CheckOutput(Page("<!-- output -->", "step 100  loss 0.083", "step 200  loss 0.153"), Output);
        output.WriteLine(string.Join("\n", errors));
        var e = Assert.Single(errors);
        Assert.Contains("line 3", e);
        Assert.Contains("0.135 where the page says 0.153", e);
        Assert.Single(LessonCheck.CheckOutput(Page("<!-- output -->", "held-out sequences sorted exactly: 498 of 500"), Output));
        Assert.Single(LessonCheck.CheckOutput(Page("<!-- output -->", "step 100  loss 0.083", "step 300  loss 0.135"), Output));   // order of lines
        Assert.Single(LessonCheck.CheckOutput(Page("<!-- output -->", "step 100  cost 0.083"), Output));                             // text
        Assert.Single(LessonCheck.CheckOutput(Page("<!-- output -->", "RoPE score at (2, 0): 4.1823, (7, 5): -4.1823"), Output));   // sign
    }

    [Fact]
    public void A_stated_tolerance_widens_only_what_it_says()
    {
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output rel=0.1 -->", "held-out sequences sorted exactly: 470 of 500"), Output));
        Assert.Single(LessonCheck.CheckOutput(Page("<!-- output rel=0.01 -->", "held-out sequences sorted exactly: 470 of 500"), Output));
        Assert.Empty(LessonCheck.CheckOutput(Page("<!-- output abs=0.02 -->", "step 200  loss 0.150"), Output));
    }

    [Fact]
    public void Links_to_missing_files_and_vanished_symbols_fail()
    {
        var dir = Directory.CreateTempSubdirectory("attend-learn-check-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "Thing.cs"), """
                public sealed record ThingConfig(int Heads = 4, float Dropout = 0f);
                public static partial class Thing
                {
                    public static Tensor Compute(Tensor x, int dim = -1) => x;
                    public int Size { get; }
                    public static (string Output, float[,] Weights) Pair(int n) => default;
                }
                """);
            var page = Path.Combine(dir.FullName, "page.md");
            string md = "[`Thing.Compute`](Thing.cs) [`ThingConfig.Heads`](Thing.cs) [`Thing.Size`](Thing.cs) [`Thing.Pair`](Thing.cs) [plain](Thing.cs)";
            Assert.Empty(LessonCheck.CheckReferences(page, md));
            var errors = LessonCheck.CheckReferences(page, "[`Thing.Vanished`](Thing.cs) [`Gone`](Thing.cs) [x](Missing.cs) ![p](img/none.svg)");
            output.WriteLine(string.Join("\n", errors));
            Assert.Equal(["link Thing.cs: `Vanished` is not declared there", "link Thing.cs: `Gone` is not declared there",
                "link Missing.cs: no such file", "link img/none.svg: no such file"], errors);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void A_marker_without_a_block_is_an_error_not_a_pass()
    {
        Assert.Throws<FormatException>(() => LessonCheck.Quotes("<!-- output -->\nno block here\n"));
        Assert.Throws<FormatException>(() => LessonCheck.Quotes("<!-- output -->\n```\nnever closed\n"));
    }
}
