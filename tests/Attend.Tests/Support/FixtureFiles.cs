using Xunit;

namespace Attend.Tests.Support;

/// <summary>Checks shared by the fixture test classes.</summary>
internal static class FixtureFiles
{
    /// <summary>Every fixture file in <paramref name="dir"/> has a case in the table and every case has a file, so
    /// that nothing is silently skipped.</summary>
    public static void AssertCasesMatchFiles(string dir, IEnumerable<string> cases)
    {
        var files = Directory.GetFiles(dir, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet();
        Assert.True(files.Count > 0, $"no fixtures in {dir}");
        var names = cases.ToHashSet();
        var noCase = files.Except(names).Order().ToList();
        var noFile = names.Except(files).Order().ToList();
        Assert.True(noCase.Count == 0 && noFile.Count == 0,
            $"fixture files without a case: [{string.Join(", ", noCase)}]; cases without a file: [{string.Join(", ", noFile)}]");
    }
}
