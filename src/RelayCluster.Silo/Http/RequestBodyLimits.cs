using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using RelayCluster.Core.Configuration;

namespace RelayCluster.Silo.Http;

/// <summary>Endpoint metadata: this endpoint takes file uploads, whose bodies may exceed the ordinary body limit.</summary>
internal sealed class FileUploadBody
{
    public static readonly FileUploadBody Instance = new();
}

/// <summary>
/// How much of a request body the server will take. Kestrel's limit is the relay's body limit
/// (<c>Relay:Requests:MaxBodyBytes</c>) for every request, so nobody can make a silo read (or drain, after answering
/// 401) more than that; the relay's own checks answer 413 at the same size with the OpenAI envelope. Only an
/// authenticated file upload has it raised, to <c>Relay:Files:MaxUploadBytes</c> plus room for the multipart framing.
/// </summary>
internal static class RequestBodyLimits
{
    /// <summary>Multipart framing, part headers and form fields on top of the file itself.</summary>
    public const long UploadOverheadBytes = 1024 * 1024;

    public static void Configure(KestrelServerOptions kestrel, RelayOptions relay) =>
        kestrel.Limits.MaxRequestBodySize = relay.Requests.MaxBodyBytes;

    /// <summary>Raises the limit for an authenticated request to an upload endpoint (before its body is read).</summary>
    public static void RaiseForUpload(HttpContext context, RelayOptions relay)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<FileUploadBody>() is null
            || context.Features.Get<IHttpMaxRequestBodySizeFeature>() is not { IsReadOnly: false } limit)
        {
            return;
        }

        limit.MaxRequestBodySize = relay.Files.MaxUploadBytes + UploadOverheadBytes;
    }

    /// <summary>
    /// For a request refused without reading its body: close the connection after the answer instead of letting the
    /// server read the rest of the body to reuse it. The client learns of the refusal at once and sends nothing more.
    /// </summary>
    public static void CloseIfBodyUnread(HttpContext context)
    {
        var request = context.Request;
        if (request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0))
        {
            context.Response.Headers.Connection = "close";
        }
    }
}
