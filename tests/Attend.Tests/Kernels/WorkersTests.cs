using Attend.Kernels.Parallel;
using Xunit;

namespace Attend.Tests;

public sealed class WorkersTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(1000)]
    public void For_RunsEveryIndexExactlyOnce(int count)
    {
        for (int round = 0; round < 50; round++)
        {
            var hits = new int[count];
            Workers.For(count, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    private struct CountItem(int[] hits) : IWorkItem
    {
        public readonly void Invoke(int index) => Interlocked.Increment(ref hits[index]);
    }

    [Fact]
    public void StructFor_RunsEveryIndexExactlyOnce()
    {
        var hits = new int[333];
        var item = new CountItem(hits);
        for (int round = 0; round < 100; round++) Workers.For(hits.Length, in item);
        Assert.All(hits, h => Assert.Equal(100, h));
    }

    [Fact]
    public void NestedFor_RunsSeriallyWithoutDeadlock()
    {
        var hits = new int[16 * 16];
        Workers.For(16, i =>
        {
            Assert.True(Workers.IsInsideFor);
            Workers.For(16, j => Interlocked.Increment(ref hits[i * 16 + j]));
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.False(Workers.IsInsideFor);
    }

    [Fact]
    public void ConcurrentCallers_AllComplete()
    {
        var hits = new int[8 * 500];
        System.Threading.Tasks.Parallel.For(0, 8, t =>
        {
            for (int r = 0; r < 50; r++) Workers.For(10, i => Interlocked.Increment(ref hits[t * 500 + r * 10 + i]));
        });
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Exception_IsRethrownOnCaller_AndPoolStaysUsable()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Workers.For(100, i => { if (i == 37) throw new InvalidOperationException("boom"); }));
        Assert.Equal("boom", e.Message);
        int sum = 0;
        Workers.For(100, i => Interlocked.Add(ref sum, i));
        Assert.Equal(4950, sum);
    }

    [Fact]
    public void Count_IsAtLeastOne_AndMoreThreadsThanCoresStillWork()
    {
        Assert.True(Workers.Count >= 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Workers.Count = 0);
        int old = Workers.Count;
        try
        {
            Workers.Count = 5;
            var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
            var hits = new int[200];
            Workers.For(200, i => { Interlocked.Increment(ref hits[i]); threads[Environment.CurrentManagedThreadId] = true; Thread.SpinWait(2000); });
            Assert.All(hits, h => Assert.Equal(1, h));
            Assert.InRange(threads.Count, 1, 5);
        }
        finally { Workers.Count = old; }
    }
}
