using Microsoft.AspNetCore.Http;

namespace Attend.Cli.Explain;

/// <summary>How much <c>attend serve</c> takes at once, and from whom: one request runs the model, <see cref="Queue"/>
/// more may wait for it, each at most <see cref="Wait"/> (then 503); at most <see cref="MaxConnections"/> connections;
/// Host names accepted besides the bound address's (<see cref="ServeCommand.HostNames"/>).</summary>
public sealed record ServeLimits
{
    /// <summary>Requests that may wait while one runs the model; one more gets 503 at once.</summary>
    public int Queue { get; init; } = 8;
    /// <summary>The longest a request waits for the model before it gets 503.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>Open connections Kestrel accepts at once.</summary>
    public int MaxConnections { get; init; } = 256;
    /// <summary>Host names accepted besides the bound address's.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];
}

/// <summary>One request at a time in the model, a bounded queue before it: <see cref="Enter"/> returns null once the
/// caller holds the model (it must then call <see cref="Leave"/>), or the 503 to send.</summary>
internal sealed class ModelGate(ServeLimits limits)
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private int inside;   // running + waiting

    public async Task<IResult?> Enter(HttpContext ctx)
    {
        if (Interlocked.Increment(ref inside) > limits.Queue + 1)
        {
            Interlocked.Decrement(ref inside);
            return Busy(ctx, $"the explorer is busy: one request runs the model and {limits.Queue} wait; try again in a moment");
        }
        bool entered = false;
        try
        {
            entered = await gate.WaitAsync(limits.Wait, ctx.RequestAborted);
            return entered ? null : Busy(ctx, $"the explorer is busy: waited {limits.Wait.TotalSeconds:0.#} s for the model; try again in a moment");
        }
        catch (OperationCanceledException) { return Results.StatusCode(499); }   // the client went away while waiting
        finally { if (!entered) Interlocked.Decrement(ref inside); }
    }

    public void Leave()
    {
        gate.Release();
        Interlocked.Decrement(ref inside);
    }

    private static IResult Busy(HttpContext ctx, string message)
    {
        ctx.Response.Headers.RetryAfter = "1";
        return ServeCommand.Error(503, message);
    }
}
