using Attend.Interop;
using Attend.IO;
using Attend.Nn;
using Xunit;

namespace Attend.Tests;

/// <summary>
/// Inputs that afl-fuzz found breaking a library reader's contract (tests/fuzz/regressions/TARGET; tools/fuzz/run.sh):
/// each must now give the reader's documented exception, with the file named.
/// </summary>
public sealed class FuzzRegressionTests
{
    public static string[] Inputs(string target)
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "FuzzRegressions", target)).Order().ToArray();
        Assert.NotEmpty(files);
        return files;
    }

    [Fact]
    public void A_checkpoint_manifest_with_a_string_that_is_not_utf8_or_a_version_of_another_type_is_invalid_data()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"attend-fuzzreg-{Guid.NewGuid():N}");
        try
        {
            Checkpoint.Save(dir, new Dictionary<string, Tensor> { ["w"] = Tensor.FromArray([1f, 2f], [2]) }, new Dictionary<string, Tensor> { ["m"] = Tensor.FromArray([0f], [1]) },
                """{"kind": "fuzz"}""", new Dictionary<string, string> { ["step"] = "3" });
            foreach (var input in Inputs("checkpoint"))
            {
                File.Copy(input, Path.Combine(dir, Checkpoint.ManifestFile), overwrite: true);
                var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(dir).Dispose());
                Assert.Contains("checkpoint.json", e.Message);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void An_onnx_bert_with_a_malformed_layer_name_or_an_invalid_config_is_invalid_data()
    {
        foreach (var input in Inputs("onnx"))
        {
            using var s = File.OpenRead(input);
            var e = Assert.Throws<InvalidDataException>(() => Bert.FromOnnx(s, null, "fuzz.onnx"));
            Assert.Contains("fuzz.onnx", e.Message);
        }
    }
}
