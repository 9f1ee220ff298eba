namespace RelayCluster.Core.Tenants;

/// <summary>An open reservation as a journal stores it: its window second, the tokens and nano-dollars it holds, when it
/// expires (Unix ms), and the silo whose request holds it (an Orleans silo address, "" if unknown).</summary>
public readonly record struct ReservationEntry(long Second, long EstimatedTokens, long ReservedNanos, long DeadlineMs, string Silo);

/// <summary>A reservation freed before its settle (deadline passed, or its silo died), kept a day so a late settle is
/// booked once: its window second, tokens and nano-dollars, and when it was reclaimed (Unix ms).</summary>
public readonly record struct ReclaimedEntry(long Second, long EstimatedTokens, long ReservedNanos, long ReclaimedAtMs);

/// <summary>A tenant's single values: limits, pause, the budget month (<c>YYYY-MM</c>, UTC) with its spend in
/// nano-dollars, the incarnation of the tenant id the state belongs to ("" for tenants older than incarnations), and
/// whether the pause is the pause threshold's (false for an admin's pause, and for state stored before thresholds).</summary>
public readonly record struct TenantScalars(
    TenantLimits Limits, bool Paused, string Month, long SpentNanos, string Incarnation, bool PausedByThreshold = false);

/// <summary>The budget month (<c>YYYY-MM</c>, UTC) and its spend in nano-dollars: the part of <see cref="TenantScalars"/> a settle changes.</summary>
public readonly record struct TenantSpend(string Month, long SpentNanos);

/// <summary>A usage record with the budget month whose usage totals it adds to.</summary>
public readonly record struct LedgerEntry(string Month, Metering.UsageRecord Record);

/// <summary>
/// A tenant's durable state as a journal loads it: what a <see cref="TenantBook"/> starts from. Reserved nano-dollars
/// are not stored; they are the sum of the open reservations. <see cref="Apply"/> replays a commit onto it, which is how
/// the embedded journal keeps its copy (and how tests check that a reload equals the book that committed).
/// </summary>
public sealed class TenantImage
{
    /// <summary>The single values; null for a tenant nothing was ever committed for.</summary>
    public TenantScalars? State { get; set; }

    /// <summary>Requests per one-second bucket (Unix second → count).</summary>
    public Dictionary<long, long> Requests { get; } = [];

    /// <summary>Tokens per one-second bucket (Unix second → tokens).</summary>
    public Dictionary<long, long> Tokens { get; } = [];

    public Dictionary<string, ReservationEntry> Reservations { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, ReclaimedEntry> Reclaimed { get; } = new(StringComparer.Ordinal);

    /// <summary>The budget thresholds crossed, with their webhook deliveries (see <see cref="BudgetCrossing"/>).</summary>
    public IReadOnlyList<BudgetCrossing> Crossings { get; set; } = [];

    /// <summary>A copy that later <see cref="Apply"/> calls on this image leave alone.</summary>
    public TenantImage Copy()
    {
        var copy = new TenantImage { State = State, Crossings = Crossings };
        foreach (var (second, amount) in Requests)
        {
            copy.Requests[second] = amount;
        }

        foreach (var (second, amount) in Tokens)
        {
            copy.Tokens[second] = amount;
        }

        foreach (var (id, reservation) in Reservations)
        {
            copy.Reservations[id] = reservation;
        }

        foreach (var (id, reclaimed) in Reclaimed)
        {
            copy.Reclaimed[id] = reclaimed;
        }

        return copy;
    }

    /// <summary>Replays one commit's changes (the ledger records are the journal's to write elsewhere).</summary>
    public void Apply(TenantChanges changes)
    {
        if (changes.State is { } state)
        {
            State = state;
        }
        else if (changes.Spend is { } spend)
        {
            // A tenant nothing was committed for yet has the defaults a book starts from (as the Redis journal loads a
            // state hash that holds only the month and its spend).
            State = (State ?? new TenantScalars(TenantLimits.Unlimited, false, spend.Month, 0, "")) with { Month = spend.Month, SpentNanos = spend.SpentNanos };
        }

        if (changes.Crossings is { } crossings)
        {
            Crossings = crossings;
        }

        Replay(Requests, changes.Requests, changes.RequestsDropped);
        Replay(Tokens, changes.Tokens, changes.TokensDropped);
        Replay(Reservations, changes.Reservations);
        Replay(Reclaimed, changes.Reclaimed);
    }

    private static void Replay(Dictionary<long, long> buckets, Dictionary<long, long> set, HashSet<long> dropped)
    {
        foreach (var second in dropped)
        {
            buckets.Remove(second);
        }

        foreach (var (second, amount) in set)
        {
            buckets[second] = amount;
        }
    }

    private static void Replay<T>(Dictionary<string, T> entries, Dictionary<string, T?> changes)
        where T : struct
    {
        foreach (var (id, entry) in changes)
        {
            if (entry is { } value)
            {
                entries[id] = value;
            }
            else
            {
                entries.Remove(id);
            }
        }
    }
}

/// <summary>
/// What a tenant's turns changed since the last commit, merged: the new single values (or only the month's spend, when
/// nothing else changed), buckets by their new amounts
/// (absolute, so replaying a commit twice is harmless) and the buckets that slid out, reservations and reclaimed entries
/// set or removed (null), and the usage records to append with their totals. A journal writes one of these atomically,
/// fenced; the book starts a new one for the turns that follow.
/// </summary>
public sealed class TenantChanges
{
    // A collection that grew past this (a group commit of thousands, a dead silo's reclaim) is replaced rather than
    // cleared, so a tenant does not keep its capacity, nor clear that capacity on every commit after.
    private const int KeptCapacity = 256;

    /// <summary>Every single value, when a turn changed more than the spend (limits, pause, incarnation, a new month); else null.</summary>
    public TenantScalars? State { get; set; }

    /// <summary>The month's new spend when that is all that changed of the single values (null when <see cref="State"/> is set).</summary>
    public TenantSpend? Spend { get; set; }

    public Dictionary<long, long> Requests { get; private set; } = [];

    public HashSet<long> RequestsDropped { get; private set; } = [];

    public Dictionary<long, long> Tokens { get; private set; } = [];

    public HashSet<long> TokensDropped { get; private set; } = [];

    public Dictionary<string, ReservationEntry?> Reservations { get; private set; } = new(StringComparer.Ordinal);

    public Dictionary<string, ReclaimedEntry?> Reclaimed { get; private set; } = new(StringComparer.Ordinal);

    public List<LedgerEntry> Ledger { get; private set; } = [];

    /// <summary>The whole new list of budget crossings when a turn changed it (rare), else null.</summary>
    public IReadOnlyList<BudgetCrossing>? Crossings { get; set; }

    public bool IsEmpty => State is null && Spend is null && Crossings is null && Requests.Count == 0 && RequestsDropped.Count == 0 && Tokens.Count == 0
        && TokensDropped.Count == 0 && Reservations.Count == 0 && Reclaimed.Count == 0 && Ledger.Count == 0;

    /// <summary>Empties this for the next commit's turns (see <see cref="TenantBook.TakeChanges"/>).</summary>
    public void Clear()
    {
        State = null;
        Spend = null;
        Crossings = null;
        Requests = Emptied(Requests);
        RequestsDropped = Emptied(RequestsDropped);
        Tokens = Emptied(Tokens);
        TokensDropped = Emptied(TokensDropped);
        Reservations = Emptied(Reservations);
        Reclaimed = Emptied(Reclaimed);
        Ledger = Ledger.Capacity > KeptCapacity ? [] : Cleared(Ledger);
    }

    private static Dictionary<TKey, TValue> Emptied<TKey, TValue>(Dictionary<TKey, TValue> entries)
        where TKey : notnull
    {
        if (entries.EnsureCapacity(0) > KeptCapacity)
        {
            return new Dictionary<TKey, TValue>(entries.Comparer);
        }

        entries.Clear();
        return entries;
    }

    private static HashSet<T> Emptied<T>(HashSet<T> set)
    {
        if (set.EnsureCapacity(0) > KeptCapacity)
        {
            return new HashSet<T>(set.Comparer);
        }

        set.Clear();
        return set;
    }

    private static List<T> Cleared<T>(List<T> list)
    {
        list.Clear();
        return list;
    }
}
