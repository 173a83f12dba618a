using System.Buffers.Binary;

namespace Attend.Cli.Speech;

/// <summary>A user error in the speech commands (bad audio, missing espeak-ng, bad checkpoint): printed as one line.</summary>
public sealed class SpeechException(string message) : CliException(message);

/// <summary>
/// WAV input and output. Reads RIFF/WAVE files of 16-bit PCM (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE with a PCM
/// subformat), any number of channels (averaged to mono) and any sample rate, and headerless <c>.raw</c> files (16 kHz,
/// 16-bit little-endian mono, as pocketsphinx's test data). Samples come back as floats in [−1, 1). Every other
/// encoding is refused with a message naming it.
/// </summary>
public static class Wav
{
    /// <summary>Reads a .wav (or .raw) file and resamples it to <paramref name="rate"/> Hz mono.</summary>
    public static float[] ReadMono(string path, int rate = LogMel.SampleRate)
    {
        var (samples, have) = Read(path);
        return Resampler.Resample(samples, have, rate);
    }

    /// <summary>The file's samples, mixed down to mono, and its sample rate.</summary>
    public static (float[] Samples, int Rate) Read(string path)
    {
        if (!File.Exists(path)) throw new SpeechException($"no such audio file: '{path}'");
        var bytes = File.ReadAllBytes(path);
        if (path.EndsWith(".raw", StringComparison.OrdinalIgnoreCase)) return (Pcm16(bytes, 0, bytes.Length & ~1, 1), 16000);
        return Parse(bytes, path);
    }

    /// <summary>Parses the bytes of a WAV file; <paramref name="name"/> is used in error messages.</summary>
    public static (float[] Samples, int Rate) Parse(byte[] b, string name)
    {
        if (b.Length < 12 || !Tag(b, 0, "RIFF") || !Tag(b, 8, "WAVE"))
            throw new SpeechException($"'{name}' is not a WAV file (no RIFF/WAVE header at offset 0)");
        int channels = 0, rate = 0, bits = 0, format = -1, pos = 12;
        while (pos + 8 <= b.Length)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos + 4));
            int body = pos + 8;
            if (Tag(b, pos, "fmt "))
            {
                if (size < 16 || body + 16 > b.Length) throw new SpeechException($"'{name}': fmt chunk at offset {pos} is truncated ({size} bytes)");
                format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 2));
                rate = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(body + 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 14));
                if (format == 0xFFFE && size >= 40 && body + 26 <= b.Length) format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 24));
            }
            else if (Tag(b, pos, "data"))
            {
                if (format < 0) throw new SpeechException($"'{name}': data chunk at offset {pos} comes before any fmt chunk");
                if (format != 1 || bits != 16)
                    throw new SpeechException($"'{name}': unsupported WAV encoding {Describe(format, bits)}; only 16-bit PCM is read " +
                                              "(convert with e.g. 'sox IN.wav -b 16 -e signed-integer OUT.wav')");
                if (channels < 1) throw new SpeechException($"'{name}': the fmt chunk says {channels} channels");
                if (rate < 1000 || rate > 384000) throw new SpeechException($"'{name}': unsupported sample rate {rate} Hz (1000…384000)");
                long end = body + (long)size;
                if (end > b.Length)
                {
                    // Streaming writers leave 0 or 0xFFFFFFFF: read to the end; any other overrun is a truncated file.
                    if (size != 0 && size != uint.MaxValue)
                        throw new SpeechException($"'{name}': data chunk at offset {pos} declares {size} bytes but the file ends after {b.Length - body}");
                    end = b.Length;
                }
                int len = (int)(end - body);
                return (Pcm16(b, body, len - len % (2 * channels), channels), rate);
            }
            long next = body + (long)size + (size & 1);                          // chunks are padded to even sizes
            if (next > b.Length) break;                                            // this chunk runs past the end: no more chunks
            pos = (int)next;
        }
        throw new SpeechException(format < 0 ? $"'{name}': no fmt chunk" : $"'{name}': no data chunk");
    }

    static string Describe(int format, int bits) => format switch
    {
        1 => $"{bits}-bit PCM",
        3 => $"IEEE float {bits}-bit (format 3)",
        6 => "A-law (format 6)",
        7 => "µ-law (format 7)",
        2 => "Microsoft ADPCM (format 2)",
        0x11 => "IMA ADPCM (format 0x11)",
        0x55 => "MPEG Layer 3 (format 0x55)",
        _ => $"format 0x{format:X4} with {bits}-bit samples",
    };

    static bool Tag(byte[] b, int at, string tag) =>
        at + 4 <= b.Length && b[at] == tag[0] && b[at + 1] == tag[1] && b[at + 2] == tag[2] && b[at + 3] == tag[3];

    /// <summary>Interleaved little-endian 16-bit samples → mono floats (the channels' mean) / 32768.</summary>
    static float[] Pcm16(byte[] b, int offset, int length, int channels)
    {
        int n = length / (2 * channels);
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            int sum = 0;
            for (int c = 0; c < channels; c++) sum += BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(offset + 2 * (i * channels + c)));
            y[i] = sum / (32768f * channels);
        }
        return y;
    }

    /// <summary>Writes 16-bit PCM (samples clipped to [−1, 1]; <paramref name="channels"/> copies of each), to a temp name then renamed.</summary>
    public static void Write(string path, float[] samples, int rate, int channels = 1)
    {
        int dataBytes = samples.Length * 2 * channels;
        var b = new byte[44 + dataBytes];
        void Put(int at, string tag) { for (int i = 0; i < 4; i++) b[at + i] = (byte)tag[i]; }
        Put(0, "RIFF"); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)(36 + dataBytes)); Put(8, "WAVE");
        Put(12, "fmt "); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(22), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), (uint)(rate * 2 * channels));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(32), (ushort)(2 * channels));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(34), 16);
        Put(36, "data"); BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(40), (uint)dataBytes);
        for (int i = 0; i < samples.Length; i++)
        {
            short s = (short)Math.Clamp(MathF.Round(samples[i] * 32768f), -32768, 32767);
            for (int c = 0; c < channels; c++) BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(44 + 2 * (i * channels + c)), s);
        }
        string tmp = path + $".tmp-{Guid.NewGuid():N}";
        File.WriteAllBytes(tmp, b);
        File.Move(tmp, path, overwrite: true);
    }
}
