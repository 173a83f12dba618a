using System.Globalization;
using System.Xml.Linq;
using Attend.Interpret;
using Xunit;

namespace Attend.Tests;

/// <summary>The guide's pictures: well-formed SVG whose cells and points carry the data (read back from the XML), labels
/// escaped, bad shapes rejected with what was wrong, and Save never leaving a half-written file.</summary>
public sealed class SvgPlotTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void Heatmap_cells_hold_the_values_and_shade_by_them()
    {
        var w = new float[,] { { 0f, 1f, 0.5f }, { 0.25f, float.NaN, 0.75f } };
        var doc = XDocument.Parse(SvgPlot.Heatmaps([("a <b>", w), ("second", w)], ["r0", "r1"], ["x", "y", "z"], 0, 1));
        var cells = doc.Descendants(Svg + "rect").Where(r => r.Element(Svg + "title") is not null).ToList();
        Assert.Equal(12, cells.Count);                                                 // 2 panels × 2 × 3
        Assert.Equal(["0", "1", "0.5", "0.25", "NaN", "0.75"], cells.Take(6).Select(c => c.Element(Svg + "title")!.Value));
        Assert.Equal("#ffffff", cells[0].Attribute("fill")!.Value);                   // 0 → white
        Assert.Equal("#08306b", cells[1].Attribute("fill")!.Value);                   // 1 → dark blue
        Assert.Equal("#f0c0c0", cells[4].Attribute("fill")!.Value);                   // NaN is marked, not hidden
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "a <b>");       // escaped, and read back as written
    }

    [Fact]
    public void Line_chart_draws_every_finite_point_in_order()
    {
        double[] x = [0, 1, 2, 3], y = [1, 10, double.NaN, 1000];
        var doc = XDocument.Parse(SvgPlot.Lines([new("loss", x, y), new("other", x, [2, 2, 2, 2])], "t", "step", "value", logY: true));
        var paths = doc.Descendants(Svg + "path").Select(p => p.Attribute("d")!.Value).ToList();
        var first = paths[0].Split(' ');
        Assert.Equal(["M", "L", "M"], first.Select(p => p[..1]));                    // the NaN breaks the line
        var ys = first.Select(p => double.Parse(p[1..].Split(',')[1], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(2 * (ys[0] - ys[1]), ys[1] - ys[2], 1);                            // log scale: 1 → 10 → 1000 spaced 1 : 2
        Assert.Contains(doc.Descendants(Svg + "text"), t => t.Value == "other");
    }

    [Fact]
    public void Bad_shapes_are_rejected_with_what_was_wrong()
    {
        var e = Assert.Throws<ArgumentException>(() => SvgPlot.Heatmaps([("a", new float[2, 3]), ("b", new float[3, 3])]));
        Assert.Contains("panel 'b' is 3×3, the first is 2×3", e.Message);
        e = Assert.Throws<ArgumentException>(() => SvgPlot.Heatmap(new float[2, 2], ["only one"]));
        Assert.Contains("1 row labels for 2 rows", e.Message);
        e = Assert.Throws<ArgumentException>(() => SvgPlot.Lines([new("s", [1, 2], [1])]));
        Assert.Contains("series 's' has 2 x values and 1 y values", e.Message);
    }

    [Fact]
    public void Save_replaces_the_file_whole_and_leaves_no_temporary()
    {
        var dir = Directory.CreateTempSubdirectory("attend-svg-");
        try
        {
            var path = Path.Combine(dir.FullName, "sub", "p.svg");
            SvgPlot.Save(path, "<svg>old</svg>");
            SvgPlot.Save(path, "<svg>new</svg>");
            Assert.Equal("<svg>new</svg>", File.ReadAllText(path));
            Assert.Equal(["p.svg"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
        }
        finally { dir.Delete(recursive: true); }
    }
}
