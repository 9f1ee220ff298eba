using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

namespace RelayCluster.Bench;

/// <summary>
/// Bytes allocated on the managed heap by a server, read from its Prometheus text (<c>GET /metrics</c>): the silo's
/// System.Runtime meter exports <see cref="MetricName"/> (GC.GetTotalAllocatedBytes), and the bare proxy prints the same
/// line. A process may be several URLs (a cluster's silos): their counters are added up. Allocation counts are
/// deterministic where CPU time on a shared machine is not, so they show a change in the hot path that CPU noise hides.
/// <para>
/// A scrape allocates too (its own serialization, after the counter is read, and the next one's request handling, before
/// it): each window between two reads therefore holds one scrape's allocations, measured idle by <see cref="ScrapeCostAsync"/>
/// and subtracted by the report. OpenTelemetry's exporter answers a scrape within 300 ms of the previous one from its cache,
/// so reads of one URL are kept at least <see cref="MinimumGap"/> apart.
/// </para>
/// </summary>
internal sealed class AllocMeter : IDisposable
{
    public const string MetricName = "dotnet_gc_heap_total_allocated_bytes_total";

    private const int CalibrationReads = 6;
    private static readonly TimeSpan MinimumGap = TimeSpan.FromMilliseconds(400);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly Dictionary<string, Uri[]> _processes;
    private readonly Dictionary<Uri, long> _lastRead = [];

    /// <param name="processes">Process name (as in <c>--pids</c>) → the base URLs of its servers.</param>
    /// <param name="bearer">Sent as <c>Authorization: Bearer …</c> (the silo keeps /metrics for admins); null for none.</param>
    public AllocMeter(IEnumerable<(string Name, IReadOnlyList<Uri> Urls)> processes, string? bearer)
    {
        _processes = processes.ToDictionary(p => p.Name, p => p.Urls.Select(u => new Uri(u, "metrics")).ToArray(), StringComparer.Ordinal);
        if (bearer is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
    }

    public IReadOnlyCollection<string> Names => _processes.Keys;

    public bool Watches(string? process) => process is not null && _processes.ContainsKey(process);

    /// <summary>The process's allocated bytes so far (its servers added up), or null if one of them does not export the counter.</summary>
    public async Task<long?> ReadAsync(string process)
    {
        long sum = 0;
        foreach (var uri in _processes[process])
        {
            if (_lastRead.TryGetValue(uri, out var last) && Stopwatch.GetElapsedTime(last) is var since && since < MinimumGap)
            {
                await Task.Delay(MinimumGap - since);
            }

            string text;
            try
            {
                text = await _http.GetStringAsync(uri);
            }
            catch (HttpRequestException)
            {
                return null;
            }
            finally
            {
                _lastRead[uri] = Stopwatch.GetTimestamp();
            }

            if (Parse(text) is not { } value)
            {
                return null;
            }

            sum += value;
        }

        return sum;
    }

    /// <summary>
    /// What one window's reads add by themselves, per process: the mean difference between idle reads in a row (one scrape, plus
    /// whatever the idle process allocates in 0.4 s), over <see cref="CalibrationReads"/> reads. A mean, not the least: the
    /// counter moves in steps (each thread's allocation context, larger under the server GC), so one difference may be 0.
    /// Run after the load, when the servers export the most series.
    /// </summary>
    public async Task<Dictionary<string, long>> ScrapeCostAsync()
    {
        var costs = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var process in _processes.Keys)
        {
            var first = await ReadAsync(process);
            long? last = first;
            for (var i = 1; i < CalibrationReads && last is not null; i++)
            {
                last = await ReadAsync(process);
            }

            if (first is { } a && last is { } b)
            {
                costs[process] = Math.Max(0, (b - a) / (CalibrationReads - 1));
            }
        }

        return costs;
    }

    /// <summary>The value of <see cref="MetricName"/> in Prometheus text (<c>name{labels} value</c> or <c>name value</c>), or null.</summary>
    internal static long? Parse(string text)
    {
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(MetricName, StringComparison.Ordinal) || line.Length == MetricName.Length
                || line[MetricName.Length] is not ('{' or ' '))
            {
                continue;
            }

            // The value follows the labels; a timestamp may follow it.
            var rest = line[(line[MetricName.Length] == '{' ? line.IndexOf('}') + 1 : MetricName.Length)..].TrimStart();
            var value = rest.IndexOf(' ') is var end and >= 0 ? rest[..end] : rest;
            return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes) ? (long)bytes : null;
        }

        return null;
    }

    public void Dispose() => _http.Dispose();
}
