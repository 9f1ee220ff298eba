namespace RelayCluster.Tests.Infrastructure;

/// <summary>A TimeProvider that moves only when a test moves it, so windows and months are tested exactly.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    /// <summary>Puts the clock at <paramref name="now"/> (a fixture shared by tests starts each test at the same moment).</summary>
    public void Set(DateTimeOffset now) => _now = now;
}
