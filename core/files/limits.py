"""Upload size limits, light to import (templates show them at the fields; no image library)."""

MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # one photo: a 50 MP phone JPEG is 12–15 MB; it is resized on the server
# The request body limit of a form with photos (ID card both sides and a portrait): three photos at
# the limit plus the fields. Litestar's default (10 MB) refused two ordinary phone photos.
PHOTO_FORM_MAX_BODY = 3 * MAX_UPLOAD_BYTES + 1024 * 1024
MB = 1024 * 1024

# For the templates: data-max-bytes / data-max-body on the photo fields and forms (core/static/js/uploads.js).
UPLOAD_LIMITS = {"photo_bytes": MAX_UPLOAD_BYTES, "photo_mb": MAX_UPLOAD_BYTES // MB,
                 "form_bytes": PHOTO_FORM_MAX_BODY, "form_mb": PHOTO_FORM_MAX_BODY // MB}
