using System.Text.RegularExpressions;
using Attend.Cli.Dates;
using Attend.Cli.Ui;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>The tiny-preset model, trained once for the tests that need one (under a second).</summary>
public sealed class TinyDateModel
{
    public Seq2Seq Model { get; }
    public List<float> Losses { get; }

    public TinyDateModel()
    {
        Model = new Seq2Seq(DateConfig.Tiny.Model, new Random(0));
        Losses = DateTask.Train(Model, DateConfig.Tiny, seed: 1, steps: 120, seconds: null, reportSeconds: 1000, DateTask.HeldOut(10, 2), TextWriter.Null)
            .Losses.Select(l => l.Loss).ToList();
    }
}

/// <summary>The quickstart's date task: formats, split, training, decoding with and without the KV cache, views.</summary>
public class DateQuickstartTests(TinyDateModel tiny) : IClassFixture<TinyDateModel>
{
    static readonly string[] MonthPrefixes = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };

    /// <summary>A small reference parser that knows only the documented conventions (see <see cref="DateFormats"/>).</summary>
    static DateOnly Parse(string s)
    {
        static int Year(string y) => y.Length == 4 ? int.Parse(y) : int.Parse(y) is var v && v < 50 ? 2000 + v : 1900 + v;
        if (Regex.IsMatch(s, @"^\d{8}$")) return new DateOnly(int.Parse(s[..4]), int.Parse(s[4..6]), int.Parse(s[6..]));
        var numbers = Regex.Matches(s, @"\d+").Select(m => m.Value).ToArray();
        var month = Regex.Matches(s.ToLowerInvariant(), "[a-z]+").Select(m => m.Value)
            .Select(w => Array.IndexOf(MonthPrefixes, w.Length >= 3 ? w[..3] : w)).FirstOrDefault(i => i >= 0, -1);
        if (month >= 0)
        {
            Assert.Equal(2, numbers.Length);
            // day and year: the 4-digit one is the year; two short numbers (2-digit year) put the year last
            var (day, year) = numbers[0].Length == 4 ? (numbers[1], numbers[0]) : (numbers[0], numbers[1]);
            return new DateOnly(Year(year), month + 1, int.Parse(day));
        }
        Assert.Equal(3, numbers.Length);
        if (numbers[0].Length == 4) return new DateOnly(Year(numbers[0]), int.Parse(numbers[1]), int.Parse(numbers[2]));
        char sep = s[numbers[0].Length];
        return sep == '-' ? new DateOnly(Year(numbers[2]), int.Parse(numbers[0]), int.Parse(numbers[1]))
                          : new DateOnly(Year(numbers[2]), int.Parse(numbers[1]), int.Parse(numbers[0]));
    }

    [Fact]
    public void EveryFormatParsesBackToItsDate()
    {
        Assert.True(DateFormats.All.Length >= 20);
        Assert.Equal(DateFormats.All.Length, DateFormats.All.Select(f => f.Name).Distinct().Count());
        var dates = new List<DateOnly> { DateFormats.First, DateFormats.Last, new(2000, 2, 29), new(2026, 11, 24), new(1999, 12, 31) };
        for (var d = DateFormats.First; d <= DateFormats.Last; d = d.AddDays(37)) dates.Add(d);
        foreach (var d in dates)
            foreach (var (name, write) in DateFormats.All)
            {
                var s = write(d);
                Assert.True(s.Length <= DateConfig.MaxSource && s.All(c => DateFormats.Alphabet.Contains(c)), $"{name}: '{s}'");
                Assert.True(Parse(s) == d, $"{name}: '{s}' parsed as {Parse(s)}, not {d}");
            }
        Assert.Equal("2026-11-24", DateFormats.Iso(new DateOnly(2026, 11, 24)));
    }

    [Fact]
    public void HeldOutDatesAreDisjointFromTraining()
    {
        var heldOut = DateFormats.Dates(heldOut: true);
        var train = DateFormats.Dates(heldOut: false);
        Assert.Empty(heldOut.Intersect(train));
        Assert.Equal(DateFormats.Last.DayNumber - DateFormats.First.DayNumber + 1, heldOut.Length + train.Length);
        Assert.InRange(heldOut.Length / (double)(heldOut.Length + train.Length), 0.08, 0.12);
        var iso = heldOut.Select(DateFormats.Iso).ToHashSet();
        Assert.All(DateTask.HeldOut(500, 3), e => Assert.Contains(e.Target, iso));
    }

    [Fact]
    public void TinyPresetTrainsAndItsLossDecreases()
    {
        var l = tiny.Losses;
        Assert.Equal(120, l.Count);
        Assert.All(l, x => Assert.True(float.IsFinite(x)));
        Assert.True(l.TakeLast(10).Average() < 0.7 * l.Take(10).Average(), $"loss {l.Take(10).Average()} → {l.TakeLast(10).Average()}");
    }

    [Fact]
    public void GreedyDecodingWithTheKvCacheEqualsDecodingWithout()
    {
        var sources = DateTask.HeldOut(40, 5).Select(e => e.Source).ToArray();
        var cached = DateTask.Predict(tiny.Model, sources, useCache: true);
        var full = DateTask.Predict(tiny.Model, sources, useCache: false);
        Assert.Equal(full, cached);
        Assert.All(cached, s => Assert.Equal(DateConfig.TargetLength, s.Length));
    }

    [Fact]
    public void CrossAttentionRowsAreDistributionsAndThePngHasTheExpectedSize()
    {
        var source = AttentionViews.Examples()[0];
        var (output, w) = DateTask.CrossAttention(tiny.Model, source);
        Assert.Equal((DateConfig.TargetLength, source.Length), (w.GetLength(0), w.GetLength(1)));
        for (int t = 0; t < w.GetLength(0); t++)
            Assert.InRange(Enumerable.Range(0, source.Length).Sum(s => w[t, s]), 0.999f, 1.001f);

        var grid = AttentionViews.Grid(source, output, w, color: false);
        Assert.DoesNotContain('\e', grid);
        Assert.Equal(1 + output.Length, grid.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var path = Path.Combine(Path.GetTempPath(), $"attend-dates-{Guid.NewGuid():N}.png");
        try
        {
            string[] Chars(string t) => t.Select(c => c.ToString()).ToArray();
            Heatmap.Write(path, Heatmap.Encode($"{source} → {output}", Chars(output), Chars(source), w));
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
            Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
            int BigEndian(int at) => (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
            var (width, height) = (BigEndian(16), BigEndian(20));                  // 24-pixel cells, labels and a title around them
            Assert.InRange(width, 24 * source.Length, 24 * source.Length + 200);
            Assert.InRange(height, 24 * output.Length, 24 * output.Length + 200);
        }
        finally { File.Delete(path); }
    }
}
