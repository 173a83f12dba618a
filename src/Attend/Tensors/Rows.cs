namespace Attend;

/// <summary>
/// Walks the rows (last dimension) of an output shape, keeping for each operand the element offset of the row's
/// start under that operand's (broadcast) strides. Kernels then run a vector loop along the row, where each
/// operand's inner stride is 1 (contiguous) or 0 (broadcast scalar).
/// </summary>
internal sealed class Rows
{
    private readonly int[] shape;
    private readonly int[][] strides;
    private readonly int[] idx;
    public readonly long[] Offset;
    public readonly int Inner;
    public readonly int Count;
    private int row = -1;

    public Rows(int[] outShape, params int[][] operandStrides)
    {
        shape = outShape;
        strides = operandStrides;
        idx = new int[Math.Max(outShape.Length, 1)];
        Offset = new long[operandStrides.Length];
        Inner = outShape.Length == 0 ? 1 : outShape[^1];
        int n = Shapes.NumEl(outShape, "rows");
        Count = Inner == 0 ? 0 : n / Inner;
    }

    public int InnerStride(int operand) => shape.Length == 0 ? 0 : strides[operand][^1];

    public bool Next()
    {
        row++;
        if (row >= Count) return false;
        if (row == 0) return true;
        for (int k = shape.Length - 2; k >= 0; k--)
        {
            idx[k]++;
            for (int o = 0; o < Offset.Length; o++) Offset[o] += strides[o][k];
            if (idx[k] < shape[k]) return true;
            for (int o = 0; o < Offset.Length; o++) Offset[o] -= (long)strides[o][k] * shape[k];
            idx[k] = 0;
        }
        return true;
    }
}
