namespace Attend;

/// <summary>An <see cref="IDisposable"/> that runs an action on its first Dispose (a scope's end, a hook's removal).</summary>
internal sealed class OnDispose(Action action) : IDisposable
{
    private Action? action = action;
    public void Dispose() { action?.Invoke(); action = null; }
}
