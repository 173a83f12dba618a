using Attend.Attention;

namespace Attend.Nn;

// The Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), parameter names as timm's
// VisionTransformer. Dims legend: B = batch, Ch = image channels, P = patch size, N = patches, D = width, nh = heads,
// hs = head size, K = classes.

/// <summary>Hyperparameters of <see cref="VisionTransformer"/>; the defaults suit 32×32 RGB images (CIFAR-sized).</summary>
public sealed record VitConfig(
    int ImageSize = 32,         // square images, ImageSize × ImageSize pixels
    int PatchSize = 4,          // square patches; ImageSize must be a multiple (ViT-B/16 uses 16 on 224)
    int Channels = 3,           // 3 for RGB, 1 for grey
    int NumClasses = 10,
    int Dim = 192,              // embedding width D (ViT-Tiny)
    int Depth = 6,              // encoder blocks
    int NHead = 3,
    int MlpRatio = 4,           // MLP hidden = MlpRatio · D
    float Dropout = 0f,
    bool Bias = true,
    AttentionVariant? Attention = null)   // soft (null) | sparsemax | entmax15 | topk:K | hard | gumbel:TAU | reinforce
{
    /// <summary>Patches per side: ImageSize / PatchSize.</summary>
    public int GridSize => ImageSize / PatchSize;
    /// <summary>N = GridSize², the patch tokens (the [CLS] token not counted).</summary>
    public int NumPatches => GridSize * GridSize;
    /// <summary>Ch·P·P, the features of one flattened patch.</summary>
    public int PatchDim => Channels * PatchSize * PatchSize;
}

/// <summary>Bidirectional multi-head self-attention: <c>softmax(QKᵀ/√hs)·V</c> per head, q, k, v read by strides from one qkv projection.</summary>
internal sealed class VitAttention : AttentionModule
{
    private readonly Linear qkv, proj;

    public VitAttention(VitConfig c, Random? rng)
        : base(c.NHead, c.NHead, c.Dim % c.NHead == 0 ? c.Dim / c.NHead : throw new ArgumentException($"ViT: Dim {c.Dim} must divide into NHead {c.NHead} heads"),
              c.Dropout, c.Attention, rng: null)   // dropout and variant seeds from Tensor.DefaultGenerator
    {
        qkv = RegisterModule("qkv", new Linear(c.Dim, 3 * c.Dim, c.Bias, rng));
        proj = RegisterModule("proj", new Linear(c.Dim, c.Dim, c.Bias, rng));
    }

    /// <summary>x (B, N, D) → (B, M, D): the outputs of the first <paramref name="queries"/> tokens (M; all N when
    /// null), each attending to all N.</summary>
    public Tensor Forward(Tensor x, int? queries = null)
    {
        var (q, k, v) = SplitQkv(qkv.Forward(x), batchFirst: true);   // (B, nh, N, hs) each, strided views
        if (queries is int m) q = q.Narrow(2, 0, m);                   // (B, nh, M, hs)
        var (y, _, _) = Attend(q, k, v);                               // (B, nh, M, hs)
        return proj.Forward(MergeHeads(y, batchFirst: true));          // (B, M, D)
    }
}

/// <summary>A pre-LN encoder block: <c>x = x + attn(norm1(x)); x = x + fc2(gelu(fc1(norm2(x))))</c>. With clsOnly, only
/// token 0's output is computed ([B, 1, D]): its query attends to every token's key and value, and the projection,
/// residuals and MLP run on that one row — the same numbers as row 0 of the full block, for a quarter of its products.</summary>
internal sealed class VitBlock : Module
{
    private readonly LayerNorm norm1, norm2;
    private readonly VitAttention attn;
    private readonly Linear fc1, fc2;
    private readonly Dropout drop;

    public VitBlock(VitConfig c, Random? rng)
    {
        norm1 = RegisterModule("norm1", new LayerNorm(c.Dim, eps: 1e-6f, bias: c.Bias));
        attn = RegisterModule("attn", new VitAttention(c, rng));
        norm2 = RegisterModule("norm2", new LayerNorm(c.Dim, eps: 1e-6f, bias: c.Bias));
        var mlp = RegisterModule("mlp", new ModuleDict());
        fc1 = mlp.Add("fc1", new Linear(c.Dim, c.MlpRatio * c.Dim, c.Bias, rng));
        fc2 = mlp.Add("fc2", new Linear(c.MlpRatio * c.Dim, c.Dim, c.Bias, rng));
        drop = RegisterModule("drop", new Dropout(c.Dropout, rng));
    }

    public Tensor Forward(Tensor x, bool clsOnly = false)
    {
        x = (clsOnly ? x.Narrow(1, 0, 1) : x) + drop.Forward(attn.Forward(norm1.Forward(x), clsOnly ? 1 : null));   // (B, N or 1, D)
        return x + drop.Forward(fc2.Forward(fc1.Forward(norm2.Forward(x)).Gelu()));
    }
}

/// <summary>
/// ViT classifier: the image is cut into N = (ImageSize/P)² patches, each flattened in (Ch, P, P) order and projected by
/// patch_embed.proj (a Linear, equivalent to timm's P×P stride-P convolution: its weight is the conv kernel
/// flattened; <see cref="LoadTimmStateDict"/> and <see cref="TimmStateDict"/> read and write timm's 4-D kernel); a learned
/// [CLS] token is prepended, learned positions pos_embed [1, N + 1, D] added, Depth pre-LN encoder blocks run, and the
/// head classifies the final norm of the [CLS] token. Only that token of the last block is ever read, so by default the
/// last block computes it alone (see VitBlock: the same logits and gradients, ~20% faster training);
/// <c>Forward(images, allTokens: true)</c> computes every token there too, for whoever reads the whole last attention
/// map (explanations, rollout). Init: positions and [CLS] N(0, 0.02),
/// Linear weights N(0, 0.02) (timm uses a truncated normal), biases 0.
/// </summary>
public sealed class VisionTransformer : Module
{
    /// <summary>The hyperparameters the model was built with.</summary>
    public VitConfig Config { get; }
    private readonly Linear patchProj, head;
    private readonly Tensor clsToken, posEmbed;
    private readonly Dropout posDrop;
    private readonly VitBlock[] blocks;
    private readonly LayerNorm norm;

    /// <summary>Builds the model of <paramref name="config"/> (ImageSize a multiple of PatchSize) and initializes it as above.</summary>
    /// <param name="rng">seeds the initialization and the dropout layers (attention-weight dropout and the variant's
    /// sampling draw from <see cref="Tensor.DefaultGenerator"/>).</param>
    /// <param name="config">the sizes and choices of the model.</param>
    public VisionTransformer(VitConfig config, Random? rng = null)
    {
        var c = Config = config;
        if (c.ImageSize % c.PatchSize != 0) throw new ArgumentException($"ViT: image size {c.ImageSize} is not a multiple of patch size {c.PatchSize}");
        patchProj = RegisterModule("patch_embed", new ModuleDict()).Add("proj", new Linear(c.PatchDim, c.Dim, true, rng));
        clsToken = RegisterParameter("cls_token", Init.Normal(new[] { 1, 1, c.Dim }, 0.02f, rng));
        posEmbed = RegisterParameter("pos_embed", Init.Normal(new[] { 1, c.NumPatches + 1, c.Dim }, 0.02f, rng));
        posDrop = RegisterModule("pos_drop", new Dropout(c.Dropout, rng));
        var list = RegisterModule("blocks", new ModuleDict());
        blocks = Enumerable.Range(0, c.Depth).Select(i => list.Add(i.ToString(), new VitBlock(c, rng))).ToArray();
        norm = RegisterModule("norm", new LayerNorm(c.Dim, eps: 1e-6f, bias: c.Bias));
        head = RegisterModule("head", new Linear(c.Dim, c.NumClasses, true, rng));
        using var _ = Autograd.NoGrad();
        foreach (var (name, p) in NamedParameters())
            if (p.Rank == 2) { using var w = Init.Normal(p.Shape, 0.02f, rng); p.CopyFrom(w); }
            else if (name.EndsWith("bias")) p.Span.Clear();
    }

    private const string PatchWeight = "patch_embed.proj.weight";

    /// <summary>
    /// The state dict under timm's names and shapes: as <see cref="Module.StateDict"/>, except that patch_embed.proj.weight
    /// is timm's conv kernel W [D, Ch, P, P] — a view of the same storage as the Linear's [D, Ch·P·P] weight, not a
    /// copy. The two layouts hold the same numbers: timm's <c>Conv2d(Ch, D, kernel P, stride P)</c> computes
    /// <c>out[b, d, i, j] = bias[d] + Σ_{c,u,v} W[d, c, u, v] · img[b, c, iP + u, jP + v]</c>, which is the patch at grid
    /// cell (i, j) flattened in (c, u, v) order (<see cref="Patchify"/>) times W read row-major as [D, Ch·P·P].
    /// Keys and shapes are those of timm's VisionTransformer(class_token=True, global_pool='token') for this config, so
    /// <c>SafeTensors.Save</c> of it writes a checkpoint in timm's layout.
    /// </summary>
    public Dictionary<string, Tensor> TimmStateDict()
    {
        var c = Config;
        var d = StateDict();
        var w = d[PatchWeight];                                        // (D, Ch·P·P), a contiguous parameter
        var kernel = new[] { c.Dim, c.Channels, c.PatchSize, c.PatchSize };
        d[PatchWeight] = w.ViewOf(w.Offset, kernel, Shapes.ContiguousStrides(kernel));   // (D, Ch, P, P), no autograd node
        return d;
    }

    /// <summary>
    /// Loads a state dict in timm's layout (timm's names, patch_embed.proj.weight the 4-D conv kernel [D, Ch, P, P]; see
    /// <see cref="TimmStateDict"/> for why that is the Linear's weight). Otherwise as <see cref="Module.LoadStateDict(IReadOnlyDictionary{string, Tensor}, bool)"/>:
    /// a tensor whose shape differs from timm's shape for this config is always an error; with <paramref name="strict"/>
    /// so is a missing or unexpected key (e.g. fc_norm of a global_pool='avg' model). One <see cref="ArgumentException"/>
    /// names every such tensor with the checkpoint's and this model's shape, and nothing is changed when it throws.
    /// </summary>
    public LoadResult LoadTimmStateDict(IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true) =>
        LoadStateDictInto(TimmStateDict(), stateDict, strict);

    /// <summary>images [B, Ch, H, W] → patches [B, N, Ch·P·P], each patch flattened in (Ch, P, P) order.</summary>
    public Tensor Patchify(Tensor images)
    {
        var c = Config;
        if (images.Rank != 4 || images.Size(1) != c.Channels || images.Size(2) != c.ImageSize || images.Size(3) != c.ImageSize)
            throw new ArgumentException($"ViT: images must be [B, {c.Channels}, {c.ImageSize}, {c.ImageSize}], got {Shapes.Str(images.ShapeRef)}");
        int B = images.Size(0), g = c.GridSize, P = c.PatchSize;
        return images.Reshape(B, c.Channels, g, P, g, P)               // (B, Ch, gh, P, gw, P)
            .Permute(0, 2, 4, 1, 3, 5)                                 // (B, gh, gw, Ch, P, P)
            .Reshape(B, c.NumPatches, c.PatchDim);                     // (B, N, Ch·P·P): one copy
    }

    /// <summary>images [B, Ch, H, W] → class logits [B, K]. The last block computes only the [CLS] token unless
    /// <paramref name="allTokens"/> (its attention map then has a row for every token, not one).</summary>
    public Tensor Forward(Tensor images, bool allTokens = false)
    {
        int B = images.Size(0), D = Config.Dim;
        var x = patchProj.Forward(Patchify(images));                   // (B, N, D)
        x = Tensor.Cat(new[] { clsToken.Expand(B, 1, D), x }, 1);      // (B, N + 1, D)
        x = posDrop.Forward(x + posEmbed);
        for (int i = 0; i < blocks.Length; i++) x = blocks[i].Forward(x, clsOnly: !allTokens && i == blocks.Length - 1);   // (B, N + 1 or 1, D)
        x = norm.Forward(x);
        return head.Forward(x.Select(1, 0));                           // (B, K) from the [CLS] token
    }
}
