using Attend.Data;
using System.Text.Json.Nodes;
using Attend.Nn;

namespace Attend.Cli.Vision;

/// <summary>
/// Model size and training set-up of <c>attend train vit</c>. Patches are PatchSize² pixels; fewer tokens train faster.
/// <code>
/// preset  patch  d   depth heads  batch  lr     epochs shift  for
/// tiny      4    32    1     2     32    3e-3      2     0    tests, seconds (any data)
/// small     4    96    2     4     64    2e-3    120     1    8×8 digits, under a minute (label smoothing 0.1)
/// base      7   128    4     4    128    2e-3     15     1    28×28 (MNIST and folders; label smoothing 0.1)
/// fashion   7   128    4     4    128    2e-3     34     1    Fashion-MNIST in 20 minutes (label smoothing 0.1)
/// </code>
/// AdamW (betas 0.9/0.999, weight decay on matrices only), linear warmup then cosine to lr/50, gradient norm clipped to 1.
/// Shift: each training image moves by a random whole number of pixels in [−shift, shift] per axis (0-filled). Flip (off in
/// every preset; --flip): mirror each training image left–right with probability ½ (right for clothes, wrong for digits).
/// </summary>
public sealed record VitPreset(string Name, int PatchSize, int Dim, int Depth, int Heads, int Batch, double Lr,
    double WeightDecay, int Epochs, int WarmupSteps, int Shift, float Dropout, float LabelSmoothing, int EvalEvery, int SaveEvery, bool Flip = false)
{
    public static readonly VitPreset Tiny = new("tiny", 4, 32, 1, 2, 32, 3e-3, 0.05, 2, 5, 0, 0f, 0f, 20, 50);
    public static readonly VitPreset Small = new("small", 4, 96, 2, 4, 64, 2e-3, 0.05, 120, 100, 1, 0f, 0.1f, 220, 1000);
    public static readonly VitPreset Base = new("base", 7, 128, 4, 4, 128, 2e-3, 0.05, 15, 300, 1, 0f, 0.1f, 468, 468);
    /// <summary>base for as many epochs as fit in 20 minutes on 2 cores (~1,780 images/s), test accuracy every 4.</summary>
    public static readonly VitPreset Fashion = Base with { Name = "fashion", Epochs = 34, EvalEvery = 1872, SaveEvery = 1872 };
    public static readonly VitPreset[] All = [Tiny, Small, Base, Fashion];

    public static VitPreset Get(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new VisionException($"unknown preset '{name}' (choose {string.Join(", ", All.Select(p => p.Name))})");

    /// <summary>The preset used when --preset is not given: small for the 8×8 digits, fashion for Fashion-MNIST, base otherwise.</summary>
    public static VitPreset For(ImageSet data, string name) => data.Height <= 8 ? Small : name == "fashion-mnist" ? Fashion : Base;
}

/// <summary>
/// What a ViT checkpoint's config holds: the model's shape (<see cref="VitConfig"/>), the class names, the input
/// normalization (per-channel mean and std of the training pixels) and the training images' mean border brightness
/// (so classify can tell a dark-on-light image from the light-on-dark ones the model saw).
/// </summary>
public sealed record VitModelConfig(string Preset, VitConfig Vit, string[] Classes, float[] Mean, float[] Std, float Background, string Data,
    string Training = "")
{
    public const string Kind = "attend-vit";
    public const int Version = 1;

    public string ToJson() => new JsonObject
    {
        ["kind"] = Kind, ["version"] = Version, ["preset"] = Preset, ["data"] = Data,
        ["image_size"] = Vit.ImageSize, ["patch_size"] = Vit.PatchSize, ["in_chans"] = Vit.Channels, ["num_classes"] = Vit.NumClasses,
        ["embed_dim"] = Vit.Dim, ["depth"] = Vit.Depth, ["num_heads"] = Vit.NHead, ["mlp_ratio"] = Vit.MlpRatio,
        ["classes"] = new JsonArray(Classes.Select(c => (JsonNode)c).ToArray()),
        ["mean"] = new JsonArray(Mean.Select(m => (JsonNode)m).ToArray()), ["std"] = new JsonArray(Std.Select(s => (JsonNode)s).ToArray()),
        ["background"] = Background, ["drop_rate"] = Vit.Dropout, ["training"] = Training,
    }.ToJsonString();

    /// <summary>Parses a checkpoint's config; anything but a ViT checkpoint of this version is a <see cref="CliException"/>.</summary>
    public static VitModelConfig FromJson(string json, string dir) => ModelCheckpoint.Config(json, dir, Kind, Version, "image classifier", o =>
    {
        var classes = ModelCheckpoint.Strings(o["classes"]);
        var vit = new VitConfig(ImageSize: o["image_size"]!.GetValue<int>(), PatchSize: o["patch_size"]!.GetValue<int>(),
            Channels: o["in_chans"]!.GetValue<int>(), NumClasses: o["num_classes"]!.GetValue<int>(), Dim: o["embed_dim"]!.GetValue<int>(),
            Depth: o["depth"]!.GetValue<int>(), NHead: o["num_heads"]!.GetValue<int>(), MlpRatio: o["mlp_ratio"]!.GetValue<int>(),
            Dropout: o["drop_rate"]!.GetValue<float>());
        var mean = ((JsonArray)o["mean"]!).Select(m => m!.GetValue<float>()).ToArray();
        var std = ((JsonArray)o["std"]!).Select(m => m!.GetValue<float>()).ToArray();
        if (classes.Length != vit.NumClasses || mean.Length != vit.Channels || std.Length != vit.Channels || vit.Channels is not (1 or 3))
            throw new VisionException($"'{dir}': inconsistent ViT config (classes, channels, mean and std disagree)");
        return new VitModelConfig(o["preset"]!.GetValue<string>(), vit, classes, mean, std, o["background"]!.GetValue<float>(), o["data"]!.GetValue<string>(), o["training"]!.GetValue<string>());
    });
}
