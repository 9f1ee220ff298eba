namespace RelayCluster.Upstreams;

/// <summary>
/// Whether upstream calls carry the caller's trace (W3C <c>traceparent</c>) and make HttpClient spans. Only worth it when
/// traces are exported: without a tracer HttpClient still started an activity per call (the request's own, made for log
/// scopes, made it the parent) and wrote its <c>traceparent</c> into the request, which nothing recorded. That was
/// ~1.1 KB and ~5 µs of a silo's CPU per request (issue 16's closed loop, embedded, c=20).
/// </summary>
/// <param name="Propagate">True to keep .NET's default propagator on every upstream invoker; false for none.</param>
public sealed record UpstreamTraceContext(bool Propagate)
{
    /// <summary>.NET's default, for callers that do not say: trace context propagated.</summary>
    public static readonly UpstreamTraceContext Default = new(true);
}
