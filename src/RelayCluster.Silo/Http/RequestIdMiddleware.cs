namespace RelayCluster.Silo.Http;

/// <summary>
/// Gives every request an id (<c>req_</c> + 32 hex, OpenAI's shape) and sends it as <c>x-request-id</c>
/// on every response, errors and streams included: the SDKs surface it to users for support.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var id = "req_" + Guid.NewGuid().ToString("N");
        context.TraceIdentifier = id;
        context.Response.Headers["x-request-id"] = id;
        context.Response.Headers["access-control-expose-headers"] = "x-request-id";

        // Every answer is JSON, SSE or a demo file with its exact type: no browser should guess another.
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return next(context);
    }
}
