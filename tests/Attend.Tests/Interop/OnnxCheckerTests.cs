using System.Diagnostics;
using Attend.Nn;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Tests.Interop;

/// <summary>
/// The ONNX project's own checker, <c>onnx.checker.check_model(full_check=True)</c> (Debian's python3-onnx, which
/// .ci/run installs), on every kind of exported file: GPT (each position scheme, with and without the KV cache), the
/// Seq2Seq's full, encoder and decoder graphs (tokens and frames), the ViT and BERT. full_check runs ONNX's strict shape
/// inference too. Debian's onnx is 1.12, which knows opsets up to 17: it checks the opset-17 files; the opset-23 files
/// are checked by ONNX Runtime 1.32, which validates every node against its opset-23 schema when it loads them (the
/// parity tests load each one).
/// </summary>
public sealed class OnnxCheckerTests(ITestOutputHelper output) : IDisposable
{
    private readonly OnnxRun run = new();
    public void Dispose() => run.Dispose();

    [Fact]
    public void EveryKindOfExportedFilePassesTheOnnxCheckerWithFullCheck()
    {
        var files = new List<string>();
        foreach (var kind in new[] { "learned", "rope-gqa-rms-swiglu", "rope-interleaved", "alibi", "none" })
            foreach (bool kv in new[] { false, true })
                files.AddRange(run.Export(OnnxExportGptTests.Model(kind), $"gpt-{kind}{(kv ? "-kv" : "")}", 17, kv).Select(f => f.Path));
        foreach (var (name, c) in new[]
                 {
                     ("s2s-tokens", new Seq2SeqConfig(SourceVocab: 13, TargetVocab: 11, DModel: 16, Heads: 2, EncoderLayers: 1, DecoderLayers: 2, FeedForward: 32)),
                     ("s2s-frames", new Seq2SeqConfig(SourceVocab: 0, TargetVocab: 11, DModel: 16, Heads: 2, EncoderLayers: 1, DecoderLayers: 1, FeedForward: 32,
                         SourceFeatures: 5, Positions: Seq2SeqPositions.Sinusoidal)),
                 })
            foreach (bool kv in new[] { false, true })
                files.AddRange(run.Export(new Seq2Seq(c, new Random(1)), name + (kv ? "-kv" : ""), 17, kv).Select(f => f.Path));
        files.AddRange(run.Export(new VisionTransformer(new VitConfig(ImageSize: 8, PatchSize: 4, Channels: 1, NumClasses: 3, Dim: 16, Depth: 2, NHead: 2)), "vit", 17).Select(f => f.Path));
        files.AddRange(run.Export(new Bert(new BertConfig(VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 32, MaxPositionEmbeddings: 20)), "bert", 17).Select(f => f.Path));
        Assert.Equal(18, files.Count);

        const string script = "import sys, onnx\n" +
                              "for p in sys.argv[1:]:\n" +
                              "    onnx.checker.check_model(p, full_check=True)\n" +
                              "    print('ok', onnx.__version__, p.rsplit('/', 1)[-1])\n";
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var f in files) psi.ArgumentList.Add(f);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the checker did not finish in 2 minutes");
        output.WriteLine(stdout + stderr);
        Assert.True(p.ExitCode == 0, $"onnx.checker failed (exit {p.ExitCode}; is python3-onnx installed? .ci/run installs it):\n{stderr}");
        Assert.Equal(files.Count, stdout.Split('\n').Count(l => l.StartsWith("ok ")));
    }
}
