using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using RelayCluster.Core.Configuration;
using RelayCluster.Core.Files;
using RelayCluster.Core.Wire;
using RelayCluster.Silo.Http;

namespace RelayCluster.Silo.Api;

/// <summary>
/// <c>POST /v1/files</c>. The multipart body is read part by part with <see cref="MultipartReader"/> and the file
/// part streams straight into the store's staging area, counted against <c>Relay:Files:MaxUploadBytes</c> as it
/// comes (IFormFile would buffer it whole first). The fields may come before or after the file (the openai Node
/// SDK sends <c>purpose</c> after it), so each is checked as soon as it is known, and the staged content becomes a
/// file only once everything is valid: a refused upload leaves nothing behind. The bytes are also held against the
/// tenant's storage limit as they arrive (<c>Relay:Files:MaxBytesPerTenant</c>): 413 <c>storage_quota_exceeded</c>
/// the moment the upload would pass it.
/// </summary>
internal static class FilesUpload
{
    private const int MaxFieldBytes = 1024;
    private const long MinExpirySeconds = 3600;
    private const long MaxExpirySeconds = 2_592_000;
    private static readonly string[] Purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];

    public static async Task<IResult> HandleAsync(HttpContext context, IFileStaging staging, FilesOptions options)
    {
        var boundary = Boundary(context.Request);
        if (boundary is null)
        {
            return await ErrorResponses.FailAsync(context, FileErrors.NotMultipart());
        }

        var form = new UploadForm();
        try
        {
            var error = await ReadFormAsync(context, boundary, staging, options.MaxUploadBytes, form);
            long? expiresAfter = null;
            error ??= form.Staged is null ? RelayError.MissingParameter("file")
                : form.Purpose is null ? RelayError.MissingParameter("purpose")
                : CheckPurpose(form) ?? CheckExpiresAfter(form, out expiresAfter);
            if (error is not null)
            {
                return await ErrorResponses.FailAsync(context, error);
            }

            if (await TenantFence.CommitAsync(context, form.Staged!, form.Filename!, form.Purpose!, expiresAfter) is not { } file)
            {
                return await ErrorResponses.FailAsync(context, TenantFence.Deleted(context));
            }

            return TypedResults.Ok(FileObject.From(file));
        }
        finally
        {
            if (form.Staged is not null)
            {
                await form.Staged.DisposeAsync(); // removes the content unless it was committed
            }
        }
    }

    private static async Task<RelayError?> ReadFormAsync(HttpContext context, string boundary, IFileStaging staging, long maxBytes, UploadForm form)
    {
        var cancellationToken = context.RequestAborted;
        var body = new ReadTrackingStream(context.Request.Body);
        var reader = new MultipartReader(boundary, body);
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                    || StringSegment.IsNullOrEmpty(disposition.Name))
                {
                    return FileErrors.BadMultipart("every part needs a 'Content-Disposition: form-data' header with a name.");
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
                var error = name switch
                {
                    "file" => await StageFileAsync(section, disposition, staging, context.Tenant().Id, maxBytes, form, cancellationToken),
                    "purpose" or "expires_after[anchor]" or "expires_after[seconds]" => await ReadFieldAsync(section, name, form, cancellationToken),
                    _ => null, // other fields are ignored; the reader skips their bodies
                };
                if (error is not null)
                {
                    return error;
                }
            }

            return null;
        }
        catch (FileTooLargeException ex)
        {
            return FileErrors.TooLarge(ex.Limit);
        }
        catch (StorageQuotaExceededException ex)
        {
            return FileErrors.StorageQuotaExceeded(ex.Limit);
        }
        catch (IOException ex) when (ex is not BadHttpRequestException && body.Broken && !cancellationToken.IsCancellationRequested)
        {
            // The body broke off, or ended before its closing boundary: the client's fault. A failing disk is not
            // caught here (a 500 follows).
            return FileErrors.BadMultipart("it ended before its closing boundary.");
        }
        catch (InvalidDataException ex)
        {
            return FileErrors.BadMultipart(ex.Message); // headers of a part too long or too many
        }
    }

    private static async Task<RelayError?> StageFileAsync(
        MultipartSection section, ContentDispositionHeaderValue disposition, IFileStaging staging, string tenantId, long maxBytes, UploadForm form, CancellationToken cancellationToken)
    {
        var filename = HeaderUtilities.RemoveQuotes(StringSegment.IsNullOrEmpty(disposition.FileNameStar) ? disposition.FileName : disposition.FileNameStar).ToString();
        if (string.IsNullOrWhiteSpace(filename))
        {
            return RelayError.BadRequest("'file' must be a file upload, with a filename.", "file", null);
        }

        if (form.Staged is not null)
        {
            return RelayError.BadRequest("Only one 'file' can be uploaded per request.", "file", null);
        }

        form.Filename = filename;
        if (form.Purpose is not null && CheckPurpose(form) is { } error)
        {
            return error; // refused before a byte of the file is stored
        }

        form.Staged = await staging.StageAsync(tenantId, section.Body, maxBytes, cancellationToken);
        return null;
    }

    private static async Task<RelayError?> ReadFieldAsync(MultipartSection section, string name, UploadForm form, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var length = await section.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (length > MaxFieldBytes)
        {
            return RelayError.InvalidValue(name, $"longer than {MaxFieldBytes} bytes.");
        }

        // A field given twice has no one meaning (first wins? last wins?), so it is refused, as a JSON body's
        // duplicate key is.
        if (name switch { "purpose" => form.Purpose, "expires_after[anchor]" => form.Anchor, _ => form.Seconds } is not null)
        {
            return RelayError.BadRequest($"Invalid '{name}': the field was given more than once; send it once.", name, "invalid_value");
        }

        var value = Encoding.UTF8.GetString(buffer, 0, length);
        switch (name)
        {
            case "purpose":
                form.Purpose = value;
                return CheckPurpose(form);
            case "expires_after[anchor]":
                form.Anchor = value;
                return null;
            default:
                form.Seconds = value;
                return null;
        }
    }

    /// <summary>The purpose, and for <c>batch</c> the file's type (known once the file part's header was read).</summary>
    private static RelayError? CheckPurpose(UploadForm form)
    {
        if (!Purposes.Contains(form.Purpose, StringComparer.Ordinal))
        {
            return RelayError.InvalidValue("purpose",
                $"'{form.Purpose}' is not one of the supported values: {string.Join(", ", Purposes.Select(p => $"'{p}'"))}.");
        }

        return form.Purpose == "batch" && form.Filename is { } filename && !filename.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            ? FileErrors.NotJsonl()
            : null;
    }

    private static RelayError? CheckExpiresAfter(UploadForm form, out long? seconds)
    {
        seconds = null;
        if (form.Anchor is null && form.Seconds is null)
        {
            return null;
        }

        if (form.Anchor != "created_at")
        {
            return form.Anchor is null
                ? RelayError.MissingParameter("expires_after[anchor]")
                : RelayError.InvalidValue("expires_after[anchor]", $"expected 'created_at', but got '{form.Anchor}' instead.");
        }

        if (form.Seconds is null)
        {
            return RelayError.MissingParameter("expires_after[seconds]");
        }

        if (!long.TryParse(form.Seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < MinExpirySeconds or > MaxExpirySeconds)
        {
            return RelayError.InvalidValue("expires_after[seconds]",
                $"expected an integer between {MinExpirySeconds} and {MaxExpirySeconds}, but got '{form.Seconds}' instead.");
        }

        seconds = value;
        return null;
    }

    private static string? Boundary(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary);
        return StringSegment.IsNullOrEmpty(boundary) || boundary.Length > 256 ? null : boundary.ToString();
    }

    private sealed class UploadForm
    {
        public string? Filename { get; set; }

        public string? Purpose { get; set; }

        public string? Anchor { get; set; }

        public string? Seconds { get; set; }

        public IStagedFile? Staged { get; set; }
    }
}
