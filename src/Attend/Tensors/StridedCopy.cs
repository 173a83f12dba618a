namespace Attend;

/// <summary>Copies a strided tensor of any dtype into contiguous memory, row by row over the last dimension.</summary>
internal static unsafe class StridedCopy
{
    public static void ToContiguous(byte* src, int[] shape, int[] strides, int elemSize, byte* dst)
    {
        int rank = shape.Length;
        int n = Shapes.NumEl(shape, "contiguous");
        if (n == 0) return;
        if (rank == 0) { Buffer.MemoryCopy(src, dst, elemSize, elemSize); return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        int rows = n / inner;
        var idx = new int[rank];
        long srcOff = 0;
        for (int r = 0; r < rows; r++)
        {
            byte* s = src + srcOff * elemSize;
            byte* d = dst + (long)r * inner * elemSize;
            if (innerStride == 1) Buffer.MemoryCopy(s, d, (long)inner * elemSize, (long)inner * elemSize);
            else if (elemSize == 4) { float* fs = (float*)s, fd = (float*)d; for (int j = 0; j < inner; j++) fd[j] = fs[(long)j * innerStride]; }
            else if (elemSize == 8) { long* ls = (long*)s, ld = (long*)d; for (int j = 0; j < inner; j++) ld[j] = ls[(long)j * innerStride]; }
            else for (int j = 0; j < inner; j++) d[j] = s[(long)j * innerStride];
            // advance the multi-index over dims 0..rank-2
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k]++;
                srcOff += strides[k];
                if (idx[k] < shape[k]) break;
                srcOff -= (long)strides[k] * shape[k];
                idx[k] = 0;
            }
        }
    }

    /// <summary>The inverse: writes contiguous <paramref name="src"/> into a strided destination.</summary>
    public static void Scatter(byte* src, int[] shape, int[] strides, int elemSize, byte* dst)
    {
        int rank = shape.Length;
        int n = Shapes.NumEl(shape, "copy");
        if (n == 0) return;
        if (rank == 0) { Buffer.MemoryCopy(src, dst, elemSize, elemSize); return; }
        int inner = shape[rank - 1], innerStride = strides[rank - 1];
        var idx = new int[rank];
        long dstOff = 0;
        for (int r = 0; r < n / inner; r++)
        {
            byte* s = src + (long)r * inner * elemSize;
            byte* d = dst + dstOff * elemSize;
            for (int j = 0; j < inner; j++)
                Buffer.MemoryCopy(s + (long)j * elemSize, d + (long)j * innerStride * elemSize, elemSize, elemSize);
            for (int k = rank - 2; k >= 0; k--)
            {
                idx[k]++;
                dstOff += strides[k];
                if (idx[k] < shape[k]) break;
                dstOff -= (long)strides[k] * shape[k];
                idx[k] = 0;
            }
        }
    }
}
