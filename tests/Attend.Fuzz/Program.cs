using Attend.Fuzz;
using SharpFuzz;

// Attend.Fuzz TARGET                       under afl-fuzz (tools/fuzz/run.sh): the reader on each input afl sends; an input
//                                          that breaks the contract (Contract.Check) is reported to afl as a crash
// Attend.Fuzz replay TARGET PATH…          every file (or folder of files) through the reader, in this process; prints
//                                          each contract break and exits 1 if any (the regression check of the corpora)
// Attend.Fuzz seeds DIR                    writes the seed corpora, DIR/TARGET/…
// Attend.Fuzz list                         the targets
switch (args)
{
    case ["list"]:
        foreach (var t in Target.All) Console.WriteLine($"{t.Name,-18} {t.What}; expected: {string.Join(", ", t.Expected.Select(e => e.Name).DefaultIfEmpty("none"))}");
        return 0;
    case ["seeds", var dir]:
        Seeds.Write(dir);
        return 0;
    case ["replay", var name, .. var paths] when paths.Length > 0:
    {
        var target = Target.Named(name);
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p])
            .Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetFileName(f) != "README.txt").Order().ToList();
        int broken = 0;
        foreach (var f in files)
        {
            if (Contract.Check(target, File.ReadAllBytes(f), out var e) is { } why)
            {
                broken++;
                Console.WriteLine($"{name}: {f}: {why}");
                if (e is not null) Console.WriteLine(e.StackTrace);
            }
        }
        Console.WriteLine($"{name}: {files.Count} inputs replayed, {broken} broke the contract");
        return broken == 0 ? 0 : 1;
    }
    case [var name]:
    {
        var target = Target.Named(name);
        Action<Stream> run = stream =>
        {
            var ms = new MemoryStream();
            stream.CopyTo(ms);
            if (Contract.Check(target, ms.ToArray(), out var e) is { } why) throw new ContractBroken(why, e);
        };
        // A reader with native code (SkiaSharp) runs in a child process, so that a native crash is a crash afl records
        // rather than the end of its fork server.
        if (target.Native) Fuzzer.OutOfProcess.Run(run); else Fuzzer.Run(run);
        return 0;
    }
    default:
        Console.Error.WriteLine("usage: Attend.Fuzz TARGET | replay TARGET PATH… | seeds DIR | list");
        return 2;
}

/// <summary>An input broke a reader's contract: afl-fuzz counts it as a crash.</summary>
sealed class ContractBroken(string why, Exception? inner) : Exception(why, inner);
