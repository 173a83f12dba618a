using System.Globalization;
using Attend.IO;
using Xunit;
using Xunit.Abstractions;

namespace Attend.Cli.Tests;

/// <summary>
/// <c>mpirun -np K attend train …</c> under Open MPI (installed by .ci/run): K = 2 with global batch 2b gives the per-step
/// losses of one process with batch 2b; two "hosts" (network namespaces, TCP) give them too; killing a rank ends the job
/// within seconds and the checkpoint resumes to the losses of an uninterrupted run; Ctrl-C stops at a step and saves;
/// errors every rank meets are printed once. Serial: the ranks need the machine's cores.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class MpiTrainingTests(ITestOutputHelper log) : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("attend-mpi-").FullName;

    public void Dispose() { try { Directory.Delete(root, recursive: true); } catch (IOException) { } }

    string P(string name) => Path.Combine(root, name);

    /// <summary>One process, one thread, as the ranks run.</summary>
    static Dictionary<int, double> Single(string lossFile, params string[] args)
    {
        using var p = new CliProcess(new Dictionary<string, string> { ["ATTEND_NUM_THREADS"] = "1" }, [.. args, "--loss-file", lossFile]);
        Assert.True(p.Wait(180) == 0, p.Stderr + p.Stdout);
        return MpiRun.ReadLosses(lossFile);
    }

    static Dictionary<int, double> Ranks(int k, string lossFile, params string[] args)
    {
        using var run = MpiRun.Attend(k, [.. args, "--loss-file", lossFile]);
        Assert.True(run.Wait() == 0, run.Output);
        Assert.Contains($"Data-parallel: {k} ranks", run.Output);
        return MpiRun.ReadLosses(lossFile);
    }

    /// <summary>The largest |a − b| / |a| over the steps, after checking both runs have the same steps.</summary>
    double WorstRelative(Dictionary<int, double> a, Dictionary<int, double> b, string what)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        double worst = a.Keys.Max(s => Math.Abs(a[s] - b[s]) / Math.Abs(a[s]));
        log.WriteLine($"{what}: {a.Count} steps, worst relative difference {worst:E2}; step 1 {a[1]:R} vs {b[1]:R}, last {a[a.Count]:R} vs {b[b.Count]:R}");
        return worst;
    }

    [Fact]
    public void Two_ranks_give_the_losses_of_one_process_lm()
    {
        string[] args = ["train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "20", "--batch", "16", "--seed", "3"];
        var one = Single(P("one.tsv"), [.. args, "--out", P("one")]);
        var two = Ranks(2, P("two.tsv"), [.. args, "--out", P("two")]);
        Assert.True(WorstRelative(one, two, "lm tiny, K=2 vs K=1, batch 16") <= 1e-5);
        Assert.True(one[20] < one[1] - 0.5, $"the model learned nothing: {one[1]} → {one[20]}");
    }

    [Fact]
    public void Two_ranks_give_the_losses_of_one_process_vit()
    {
        string[] args = ["train", "vit", "--data", "digits", "--preset", "tiny", "--steps", "20", "--batch", "32", "--seed", "5"];
        var one = Single(P("one.tsv"), [.. args, "--out", P("one")]);
        var two = Ranks(2, P("two.tsv"), [.. args, "--out", P("two")]);
        Assert.True(WorstRelative(one, two, "vit tiny, K=2 vs K=1, batch 32") <= 1e-5);
        // Both checkpoints hold the same weights to float rounding.
        using var a = Checkpoint.Load(P("one"));
        using var b = Checkpoint.Load(P("two"));
        foreach (var (name, w) in a.Weights)
        {
            var (x, y) = (w.ToArray(), b.Weights[name].ToArray());
            for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-4 + 1e-3 * Math.Abs(x[i]), $"{name}[{i}]: {x[i]} vs {y[i]}");
        }
    }

    [Fact]
    public void Two_hosts_over_tcp_give_the_losses_of_one_process()
    {
        string[] args = ["train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "12", "--batch", "16", "--seed", "4"];
        var one = Single(P("one.tsv"), [.. args, "--out", P("one")]);
        using var run = MpiRun.TwoHosts([.. args, "--out", P("two"), "--loss-file", P("two.tsv")]);
        Assert.True(run.Wait() == 0, run.Output);
        log.WriteLine(run.Output);
        Assert.Contains("Data-parallel: 2 ranks (1 on this machine", run.Output);   // Open MPI sees two nodes
        Assert.True(WorstRelative(one, MpiRun.ReadLosses(P("two.tsv")), "two namespaces over TCP vs one process") <= 1e-5);
    }

    [Fact]
    public void Killing_a_rank_ends_the_job_and_the_checkpoint_resumes_to_the_uninterrupted_losses()
    {
        string[] args = ["train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "300", "--save-every", "50", "--seed", "2"];
        var whole = Ranks(2, P("whole.tsv"), [.. args, "--out", P("whole")]);

        string dir = P("cut"), losses = P("cut.tsv");
        using (var run = MpiRun.Attend(2, [.. args, "--out", dir, "--loss-file", losses]))
        {
            run.WaitForStep(losses, 110);
            int victim = run.RankPid(1);
            var killedAt = run.Elapsed;
            CliProcess.Signal("KILL", victim);
            int exit = run.Wait(30);
            double seconds = (run.Elapsed - killedAt).TotalSeconds;
            log.WriteLine($"kill -9 rank 1 (pid {victim}) → mpirun exit {exit} after {seconds:F2} s\n{run.Output[^Math.Min(run.Output.Length, 1200)..]}");
            Assert.NotEqual(0, exit);
            Assert.True(seconds < 10, $"the job took {seconds:F1} s to end");
            Assert.Contains("process rank 1", run.Output);                       // mpirun names the rank
            Assert.Matches(@"ending this 2-rank job during step \d+ .*; if not, the last complete checkpoint, step (100|150), is intact", run.Output);
        }
        using (var ck = Checkpoint.Load(dir))
        {
            long step = long.Parse(ck.Extra["step"], CultureInfo.InvariantCulture);
            Assert.True(step is 100 or 150, $"checkpoint at step {step}");
        }
        using (var resumed = MpiRun.Attend(2, [.. args, "--out", dir, "--loss-file", losses, "--resume"]))
            Assert.True(resumed.Wait() == 0, resumed.Output);
        var after = MpiRun.ReadLosses(losses);
        Assert.Equal(300, after.Keys.Max());
        foreach (var s in Enumerable.Range(1, 300)) Assert.True(after[s] == whole[s], $"step {s}: resumed {after[s]:R}, uninterrupted {whole[s]:R}");
    }

    [Fact]
    public void Ctrl_c_on_mpirun_stops_every_rank_at_one_step_and_saves_it()
    {
        string dir = P("stopped"), losses = P("stopped.tsv");
        using var run = MpiRun.Attend(2, "train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "5000", "--save-every", "1000",
            "--out", dir, "--loss-file", losses);
        run.WaitForStep(losses, 30);
        var t = run.Elapsed;
        run.RankPid(0);
        CliProcess.Signal("INT", run.ProcessId);
        int exit = run.Wait(30);
        log.WriteLine($"SIGINT to mpirun → exit {exit} after {(run.Elapsed - t).TotalSeconds:F2} s\n{run.Output[^Math.Min(run.Output.Length, 800)..]}");
        Assert.NotEqual(0, exit);
        Assert.True((run.Elapsed - t).TotalSeconds < 10);
        var m = System.Text.RegularExpressions.Regex.Match(run.Output, @"Interrupted at step (\d+): checkpoint saved");
        Assert.True(m.Success, run.Output);
        using var ck = Checkpoint.Load(dir);
        Assert.Equal(m.Groups[1].Value, ck.Extra["step"]);
        Assert.Equal(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), MpiRun.ReadLosses(losses).Keys.Max());
    }

    [Fact]
    public void Errors_every_rank_meets_are_printed_once()
    {
        using (var run = MpiRun.Attend(2, "train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "5", "--batch", "15", "--out", P("odd")))
        {
            Assert.NotEqual(0, run.Wait());
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Output, "--batch 15 must be a multiple of the 2 ranks"));
        }
        using (var run = MpiRun.Attend(2, "train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "5", "--out", P("none"), "--resume"))
        {
            Assert.NotEqual(0, run.Wait());
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Output, "cannot resume: .* holds no checkpoint"));
        }
        // rank 0 alone writes the loss file: its error is one rank's, and ends the job
        using (var run = MpiRun.Attend(2, "train", "lm", "--data", "kjv", "--preset", "tiny", "--steps", "5", "--out", P("alone"), "--loss-file", P("no/such/dir/l.tsv")))
        {
            Assert.True(run.Wait() == 3, run.Output);                              // MPI_Abort's code, from mpirun
            Assert.Contains("error on rank 0 of 2 at step 1: --loss-file", run.Output);
        }
        using (var run = MpiRun.Attend(2, "train", "lm", "--data", "kjv", "--bogus"))
        {
            Assert.Equal(2, run.Wait());
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(run.Output, "Unrecognized command or argument '--bogus'"));
        }
        using (var run = MpiRun.Attend(2, "quickstart", "--preset", "tiny"))
        {
            Assert.NotEqual(0, run.Wait());
            Assert.Contains("under mpirun only 'attend train …' runs", run.Output);
        }
    }

    [Fact]
    public void Another_mpi_launcher_is_refused_instead_of_training_alone()
    {
        using var p = new CliProcess(new Dictionary<string, string> { ["PMI_RANK"] = "0", ["PMI_SIZE"] = "4" }, "train", "lm", "--data", "kjv", "--preset", "tiny", "--out", P("x"));
        Assert.Equal(2, p.Wait());
        Assert.Contains("not Open MPI's mpirun (PMI_SIZE=4)", p.Stderr);
        Assert.False(Directory.Exists(P("x")));
    }

    [Fact]
    public void Cpu_lists_count_as_linux_writes_them()
    {
        Assert.Equal(7, Cluster.CountCpus("0-3,8,10-11\n"));
        Assert.Equal(1, Cluster.CountCpus("0"));
        Assert.Null(Cluster.CountCpus("3-1"));
        Assert.Null(Cluster.CountCpus("zero"));
        Assert.Null(Cluster.CountCpus(""));
        // one process on this machine, unbound: all of its cores
        Assert.Equal((Environment.ProcessorCount, (string?)null), Cluster.ThreadsPerRank(1));
    }
}
