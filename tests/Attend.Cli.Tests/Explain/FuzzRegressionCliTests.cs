using Attend.Cli.Dates;
using Attend.Cli.Explain;
using Attend.Cli.Speech;
using Attend.Nn;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>Inputs that afl-fuzz found breaking a CLI reader's contract (tests/fuzz/regressions/TARGET): each now gives
/// the documented exception or a 400.</summary>
public sealed class FuzzRegressionCliTests
{
    static string[] Inputs(string target)
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "FuzzRegressions", target)).Order().ToArray();
        Assert.NotEmpty(files);
        return files;
    }

    [Fact]
    public void A_wav_whose_chunk_size_runs_past_the_end_is_a_speech_exception_not_an_index_error()
    {
        foreach (var input in Inputs("wav"))
        {
            var e = Assert.Throws<SpeechException>(() => Wav.Parse(File.ReadAllBytes(input), "fuzz.wav"));
            Assert.Contains("'fuzz.wav'", e.Message);
        }
    }

    [Fact]
    public async Task An_explorer_request_whose_strings_are_not_utf8_is_400_not_500()
    {
        var explainer = new DateExplainer(new Seq2Seq(DateConfig.Tiny.Model, new Random(0)), DateConfig.Tiny);
        foreach (var input in Inputs("explorer-request"))
        {
            var bytes = File.ReadAllBytes(input);
            var r = await ServeCommand.Explain(explainer, new MemoryStream(bytes), bytes.Length, ServeCommand.MaxBody);
            Assert.Equal(400, Assert.IsAssignableFrom<IStatusCodeHttpResult>(r).StatusCode);
        }
    }

    [Fact]
    public void A_tiny_image_that_claims_millions_of_pixels_is_refused_from_its_header_at_once()
    {
        foreach (var input in Inputs("image"))
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var e = Assert.Throws<Vision.VisionException>(() => Vision.ImageFiles.Decode(File.ReadAllBytes(input), "fuzz.bmp", 32, 3, out _));
            Assert.Contains("fuzz.bmp: 16", e.Message);                                  // 16897×4098, 16384×4129
            Assert.Contains("at most 16,777,216 (4096 × 4096) are decoded", e.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        }
    }
}

