namespace RelayCluster.Bench;

/// <summary>
/// The outcome of one request, in <see cref="System.Diagnostics.Stopwatch"/> ticks from the moment the
/// request was handed to the socket handler. <see cref="Error"/> is null for a success.
/// </summary>
internal readonly record struct Sample(long TotalTicks, long FirstDataTicks, string? Error)
{
    public static Sample Failed(string error) => new(0, 0, error);
}
