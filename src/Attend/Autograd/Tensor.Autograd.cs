namespace Attend;

public sealed partial class Tensor
{
    private bool requiresGrad;
    private Node? gradFn;
    private Tensor? grad;
    private List<Action<Tensor>>? postAccumulateGradHooks;

    internal Node? GradFn => gradFn;

    /// <summary>True for a leaf that accumulates <see cref="Grad"/>, and for every result computed from one while
    /// grad mode is on. Only leaves can be set; only float32 tensors can require grad.</summary>
    public bool RequiresGrad
    {
        get => requiresGrad || gradFn is not null;
        set
        {
            if (gradFn is not null)
                throw new InvalidOperationException("RequiresGrad can only be set on leaf tensors; use Detach() to make a new leaf");
            if (value && DType != DType.Float32)
                throw new InvalidOperationException($"only float32 tensors can require gradients, this one is {DType.Name()}");
            requiresGrad = value;
        }
    }

    /// <summary>True when the tensor was not produced by a recorded operation.</summary>
    public bool IsLeaf => gradFn is null;

    /// <summary>The gradient accumulated into this leaf by <see cref="Backward()"/>; null until then or after <see cref="ZeroGrad"/>.</summary>
    public Tensor? Grad
    {
        get => grad;
        set
        {
            if (value is not null && !Shapes.Equal(value.shape, shape))
                throw new ArgumentException($"Grad: shape {Shapes.Str(value.shape)} does not match tensor {Shapes.Str(shape)}");
            grad = value;
        }
    }

    /// <summary>Drops the accumulated gradient (as PyTorch's zero_grad(set_to_none=True)) and disposes the old gradient
    /// tensor, so its memory goes back to the pool at once; copy it first if you still need it.</summary>
    public void ZeroGrad()
    {
        grad?.Dispose();
        grad = null;
    }

    /// <summary>
    /// Runs <paramref name="hook"/>(this leaf) each time a backward pass has finished accumulating into <see cref="Grad"/>
    /// (PyTorch's <c>register_post_accumulate_grad_hook</c>): within one <see cref="Backward()"/>, the leaf's gradient
    /// is complete when the hook runs, so data-parallel training can start reducing it while the rest of the backward
    /// runs. Hooks run in the order registered, on the thread that called Backward. Dispose the result to remove it.
    /// </summary>
    /// <exception cref="InvalidOperationException">this tensor is not a leaf that requires grad.</exception>
    public IDisposable RegisterPostAccumulateGradHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!IsLeaf || !requiresGrad)
            throw new InvalidOperationException($"RegisterPostAccumulateGradHook: only a leaf that requires grad accumulates a gradient (this {Shapes.Str(shape)} tensor {(IsLeaf ? "does not require grad" : "is not a leaf")})");
        (postAccumulateGradHooks ??= []).Add(hook);
        return new OnDispose(() => postAccumulateGradHooks?.Remove(hook));
    }

    internal void RunPostAccumulateGradHooks()
    {
        if (postAccumulateGradHooks is not { Count: > 0 } hooks) return;
        foreach (var hook in hooks.ToArray()) hook(this);
    }


    /// <summary>A new leaf sharing this tensor's storage, cut off from the graph.</summary>
    public Tensor Detach() => ViewOf(Offset, (int[])shape.Clone(), (int[])strides.Clone());

    internal Tensor WithGrad(string op, Tensor?[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (Autograd.ShouldRecord(inputs))
        {
            OpRegistry.Require(op);
            gradFn = new Node(op, inputs, backward);
        }
        if (Profiler.Enabled) Profiler.Mark("fwd " + op);
        return this;
    }

    /// <summary>Backpropagates from a scalar (as <c>loss.backward()</c>).</summary>
    public void Backward() => BackwardEngine.Run(this, null, false);

    /// <summary>Backpropagates <paramref name="gradient"/> (same shape as this tensor) through the graph.</summary>
    public void Backward(Tensor gradient, bool retainGraph = false) => BackwardEngine.Run(this, gradient, retainGraph);
}
