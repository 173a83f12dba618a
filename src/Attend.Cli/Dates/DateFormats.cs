using Attend.Data;

namespace Attend.Cli.Dates;

/// <summary>
/// Surface forms of a calendar date ("Tuesday 24 Nov 2026", "24/11/26", "November the 24th, 2026", …) for the
/// date-normalization task: every form maps to one ISO target, <c>2026-11-24</c>.
/// <para><b>Ambiguity, resolved by construction.</b> "11/04/26" is 11 April in Europe and 4 November in the US, and "26"
/// could be a year or a day. So each numeric form follows one fixed convention that the model can read off the text:
/// <list type="bullet">
/// <item>a 4-digit first group (or 8 digits in a row) is year-month-day: "2026-11-24", "2026/11/24", "2026.11.24", "20261124";</item>
/// <item>"/" and "." with the day or month first are day-month-year (European): "24/11/2026", "24.11.26", "4/3/2026";</item>
/// <item>"-" with a 1–2-digit first group is month-day-year (US): "11-24-2026", "11-24-26";</item>
/// <item>2-digit years name the one year of 1950–2049 that ends in them (50–99 → 19xx, 00–49 → 20xx), so the
///       100-year range <see cref="First"/>…<see cref="Last"/> keeps them unambiguous.</item>
/// </list>
/// Forms with a month name are never ambiguous. Without such a convention no model (or person) could reach 100%.</para>
/// <para><b>Held-out dates.</b> A calendar date is held out when a hash of its day number falls in bucket 0 of 10
/// (<see cref="IsHeldOut"/>): about 10% of all dates, spread evenly over years, months and weekdays; training never
/// sees them in any format, so the test checks that the model reads digits and names rather than remembering dates.</para>
/// </summary>
public static class DateFormats
{
    public static readonly DateOnly First = new(1950, 1, 1), Last = new(2049, 12, 31);

    static readonly string[] Months = { "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December" };
    static readonly string[] Days = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };

    /// <summary>The formats: a name (as a .NET-style pattern, for display) and the function that writes a date.</summary>
    public static readonly (string Name, Func<DateOnly, string> Write)[] All =
    {
        ("dd/MM/yyyy",             d => $"{d.Day:00}/{d.Month:00}/{d.Year}"),
        ("dd/MM/yy",               d => $"{d.Day:00}/{d.Month:00}/{Yy(d)}"),
        ("d/M/yyyy",               d => $"{d.Day}/{d.Month}/{d.Year}"),
        ("dd.MM.yyyy",             d => $"{d.Day:00}.{d.Month:00}.{d.Year}"),
        ("d.M.yy",                 d => $"{d.Day}.{d.Month}.{Yy(d)}"),
        ("MM-dd-yyyy",             d => $"{d.Month:00}-{d.Day:00}-{d.Year}"),
        ("M-d-yy",                 d => $"{d.Month}-{d.Day}-{Yy(d)}"),
        ("yyyy-MM-dd",             d => $"{d.Year}-{d.Month:00}-{d.Day:00}"),
        ("yyyy/MM/dd",             d => $"{d.Year}/{d.Month:00}/{d.Day:00}"),
        ("yyyy.M.d",               d => $"{d.Year}.{d.Month}.{d.Day}"),
        ("yyyyMMdd",               d => $"{d.Year}{d.Month:00}{d.Day:00}"),
        ("d MMMM yyyy",            d => $"{d.Day} {Month(d)} {d.Year}"),
        ("dd MMM yyyy",            d => $"{d.Day:00} {Mon(d)} {d.Year}"),
        ("MMM d, yyyy",            d => $"{Mon(d)} {d.Day}, {d.Year}"),
        ("MMMM d, yyyy",           d => $"{Month(d)} {d.Day}, {d.Year}"),
        ("MMM. d, yyyy",           d => $"{Mon(d)}. {d.Day}, {d.Year}"),
        ("dddd d MMM yyyy",        d => $"{Day(d)} {d.Day} {Mon(d)} {d.Year}"),
        ("dddd, MMMM d, yyyy",     d => $"{Day(d)}, {Month(d)} {d.Day}, {d.Year}"),
        ("ddd, dd MMM yyyy",       d => $"{Day(d)[..3]}, {d.Day:00} {Mon(d)} {d.Year}"),
        ("MMMM the dth, yyyy",     d => $"{Month(d)} the {Ord(d.Day)}, {d.Year}"),
        ("the dth of MMMM yyyy",   d => $"the {Ord(d.Day)} of {Month(d)} {d.Year}"),
        ("dth MMMM yyyy",          d => $"{Ord(d.Day)} {Month(d)} {d.Year}"),
        ("dddd the dth of MMMM, yyyy", d => $"{Day(d)} the {Ord(d.Day)} of {Month(d)}, {d.Year}"),
        ("MMMM D YYYY (upper)",    d => $"{Month(d).ToUpperInvariant()} {d.Day} {d.Year}"),
        ("month dth yyyy (lower)", d => $"{Month(d).ToLowerInvariant()} {Ord(d.Day)} {d.Year}"),
        ("dd-mon-yyyy (lower)",    d => $"{d.Day:00}-{Mon(d).ToLowerInvariant()}-{d.Year}"),
        ("DD-MON-YY (upper)",      d => $"{d.Day:00}-{Mon(d).ToUpperInvariant()}-{Yy(d)}"),
        ("MMM d 'yy",              d => $"{Mon(d)} {d.Day} '{Yy(d)}"),
        ("ddd d MMMM 'yy",         d => $"{Day(d)[..3]} {d.Day} {Month(d)} '{Yy(d)}"),
        ("yyyy MMM d",             d => $"{d.Year} {Mon(d)} {d.Day}"),
    };

    /// <summary>Every character any format writes (the source vocabulary).</summary>
    public const string Alphabet = " ',-./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>The target: ISO 8601, always 10 characters.</summary>
    public static string Iso(DateOnly d) => $"{d.Year:0000}-{d.Month:00}-{d.Day:00}";

    /// <summary>True for the ~10% of calendar dates kept out of training: bucket 0 of a 64-bit mix of the day number.</summary>
    public static bool IsHeldOut(DateOnly d)
    {
        ulong z = (ulong)d.DayNumber * 0x9E3779B97F4A7C15UL;   // SplitMix64's finalizer over the day number
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) % 10 == 0;
    }

    /// <summary>All dates of <see cref="First"/>…<see cref="Last"/> on one side of the split.</summary>
    public static DateOnly[] Dates(bool heldOut)
    {
        var list = new List<DateOnly>();
        for (var d = First; d <= Last; d = d.AddDays(1))
            if (IsHeldOut(d) == heldOut) list.Add(d);
        return list.ToArray();
    }

    /// <summary>A random (source, target) pair from <paramref name="dates"/> in a random format.</summary>
    public static (string Source, string Target, int Format) Sample(DateOnly[] dates, SplitMix64 rng)
    {
        var d = dates[rng.NextInt(dates.Length)];
        int f = rng.NextInt(All.Length);
        return (All[f].Write(d), Iso(d), f);
    }

    static string Yy(DateOnly d) => (d.Year % 100).ToString("00");
    static string Month(DateOnly d) => Months[d.Month - 1];
    static string Mon(DateOnly d) => Months[d.Month - 1][..3];
    static string Day(DateOnly d) => Days[(int)d.DayOfWeek];
    static string Ord(int n) => n + (n % 10 == 1 && n != 11 ? "st" : n % 10 == 2 && n != 12 ? "nd" : n % 10 == 3 && n != 13 ? "rd" : "th");
}
