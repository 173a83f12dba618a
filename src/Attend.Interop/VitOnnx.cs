using Attend.Nn;
using Onnx;
using static Onnx.TensorProto.Types;

namespace Attend.Interop;

/// <summary>
/// The <see cref="VisionTransformer"/> as an ONNX graph, named as Hugging Face's image-classification exports:
/// <c>pixel_values</c> (batch, Ch, H, W) float → <c>logits</c> (batch, K). The patch projection is timm's convolution
/// (kernel = stride = P, weight patch_embed.proj.weight [D, Ch, P, P] as <see cref="VisionTransformer.TimmStateDict"/>);
/// the last block computes the [CLS] token alone, as the model's forward does.
/// </summary>
internal static class VitOnnx
{
    public static ModelProto Build(VisionTransformer m, int opset)
    {
        var c = m.Config;
        int D = c.Dim, H = c.NHead, hs = D / H, P = c.PatchSize;
        var g = new OnnxBuilder("attend_vit", opset, OnnxExport.Tensors(m, m.TimmStateDict()));
        var pixels = g.Input("pixel_values", DataType.Float, "batch", c.Channels, c.ImageSize, c.ImageSize);
        var grid = g.Op("Conv", [pixels, g.Param("patch_embed.proj.weight"), g.Param("patch_embed.proj.bias")],
            ("kernel_shape", new long[] { P, P }), ("strides", new long[] { P, P }));                          // (B, D, g, g)
        var x = g.Op("Transpose", [g.Op("Reshape", [grid, g.Ints([0, 0, -1])])], ("perm", new long[] { 0, 2, 1 }));   // (B, N, D)
        var cls = g.Op("Expand", [g.Param("cls_token"), g.Op("Concat", [g.Dim(pixels, 0), g.Ints([1, D])], ("axis", 0L))]);   // (B, 1, D)
        x = g.Op("Add", [g.Op("Concat", [cls, x], ("axis", 1L)), g.Param("pos_embed")]);                      // (B, N + 1, D)
        for (int i = 0; i < c.Depth; i++)
        {
            string p = $"blocks.{i}.";
            bool clsOnly = i == c.Depth - 1;
            var qkv = g.Split(g.Linear(g.LayerNorm(x, p + "norm1", 1e-6f), p + "attn.qkv"), D, D, D);
            var q = clsOnly ? First(g, qkv[0]) : qkv[0];                                                      // (B, 1 or N + 1, D)
            var y = g.Linear(g.Attention(q, qkv[1], qkv[2], H, H, hs, null), p + "attn.proj");
            x = g.Op("Add", [clsOnly ? First(g, x) : x, y]);
            var mlp = g.Linear(g.Gelu(g.Linear(g.LayerNorm(x, p + "norm2", 1e-6f), p + "mlp.fc1")), p + "mlp.fc2");
            x = g.Op("Add", [x, mlp]);
        }
        var token = g.Op("Gather", [g.LayerNorm(x, "norm", 1e-6f), g.ScalarInt(0)], ("axis", 1L));             // (B, D)
        g.Output("logits", g.Linear(token, "head"), DataType.Float, "batch", c.NumClasses);
        return g.Model($"Attend ViT: {c.Depth} blocks, {H} heads, width {D}, {c.ImageSize}×{c.ImageSize}×{c.Channels} images in {P}×{P} patches, {c.NumClasses} classes");
    }

    /// <summary>Token 0 of x (B, N, D) as (B, 1, D).</summary>
    private static string First(OnnxBuilder g, string x) => g.Op("Slice", [x, g.Ints([0]), g.Ints([1]), g.Ints([1])]);
}
