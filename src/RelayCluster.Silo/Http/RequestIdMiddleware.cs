namespace RelayCluster.Silo.Http;

/// <summary>
/// Gives every request an id (<c>req_</c> + 32 hex, OpenAI's shape) and sends it as <c>x-request-id</c>
/// on every response, errors and streams included: the SDKs surface it to users for support.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var id = NewId();
        context.TraceIdentifier = id;
        context.Response.Headers["x-request-id"] = id;
        context.Response.Headers["access-control-expose-headers"] = "x-request-id";

        // Every answer is JSON, SSE or a demo file with its exact type: no browser should guess another.
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return next(context);
    }

    /// <summary><c>req_</c> + a random GUID's 32 hex digits, written into one string (no intermediate string to concatenate).</summary>
    internal static string NewId() => string.Create(36, Guid.NewGuid(), static (chars, guid) =>
    {
        "req_".CopyTo(chars);
        guid.TryFormat(chars[4..], out _, "N");
    });
}
