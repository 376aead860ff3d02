; Checks that run inside headless GIMP 2.10 (Script-Fu batch), driven by
; test-gimp.py --api 2.0, which prepared the work folder and defines before
; loading this file:
;   WORK       the work folder
;   FIXTURES   (("NAME" "PATH") ...)
;   CORRUPT    ("PATH" ...) broken files the library rejects
;   GREY-RGB-ICC  #t when WORK/grey-rgb-icc.raiiaf (a grey image with an RGB
;              profile) could be made
;   ORIGIN     #t when WORK/origin.raiiaf (PNG metadata, latents c, a, b),
;              WORK/huge.raiiaf, out/origin-unchanged-again.raiiaf (a copy)
;              and out/link.raiiaf (a link to out/link-target.raiiaf) exist
; Every check writes "ok - ..." or "not ok - ..." to WORK/gimp-checks.log,
; the last line is "DONE failures=N". Files go to WORK/out/, where
; test-gimp.py checks them with the library afterwards:
;   NAME.edited/.nolatents/.from-xcf.raiiaf, override, last-values,
;   new-*, script-fu*, NAME.ours.png (what the plug-in opened) and
;   NAME.gimp-png.png (what GIMP's own PNG loader makes of the embedded
;   PNG), both saved by GIMP's PNG exporter.
;
; SPDX-License-Identifier: MIT

(define LOG (open-output-file (string-append WORK "/gimp-checks.log")))
(define failures 0)
(define OUT (string-append WORK "/out"))

(define (log-line text)
  (display text LOG)
  (newline LOG))

(define (check ok what)
  (if ok
      (log-line (string-append "ok - " what))
      (begin (set! failures (+ failures 1))
             (log-line (string-append "not ok - " what))))
  ok)

(define (out name) (string-append OUT "/" name))

; #t when (thunk) raised an error
(define (fails? thunk) (catch #t (begin (thunk) #f)))

(define (load-raiiaf path)
  (car (file-raiiaf-load RUN-NONINTERACTIVE path path)))

(define (image-drawable image) (car (gimp-image-get-active-drawable image)))

(define (export image path compression storage keep prompt model)
  (file-raiiaf-export RUN-NONINTERACTIVE image (image-drawable image) path path
                      compression storage keep prompt model
                      TRUE TRUE TRUE TRUE TRUE))  ; include-exif/xmp/text/color-profile/resolution

(define (parasite-names image) (cadr (gimp-image-get-parasite-list image)))

(define (has-parasite? image name) (member name (parasite-names image)))

(define (image-count) (car (gimp-image-list)))

; every "raiiaf/" name of `names` is in `other`
(define (all-in? names other)
  (cond ((null? names) #t)
        ((and (> (string-length (car names)) 7)
              (string=? (substring (car names) 0 7) "raiiaf/")
              (not (member (car names) other))) #f)
        (else (all-in? (cdr names) other))))

(define (contains? text part)
  (let loop ((i 0))
    (cond ((> (+ i (string-length part)) (string-length text)) #f)
          ((string=? (substring text i (+ i (string-length part))) part) #t)
          (else (loop (+ i 1))))))

; every line of `text` (but the XML wrapper) is in `other`
(define (all-lines-in? text other)
  (let loop ((start 0) (i 0))
    (cond ((>= i (string-length text)) #t)
          ((char=? (string-ref text i) #\newline)
           (let ((line (substring text start i)))
             (if (and (contains? line "<tag ") (not (contains? other line)))
                 #f
                 (loop (+ i 1) (+ i 1)))))
          (else (loop start (+ i 1))))))

(define (save-png image path)
  ; interlace compression bkgd gama offs phys time comment save-transparent
  (file-png-save2 RUN-NONINTERACTIVE image (image-drawable image) path path
                  0 6 0 0 0 0 0 0 1))

; ---- each fixture ----------------------------------------------------------

(define (check-fixture name path)
  (let* ((image (car (gimp-file-load RUN-NONINTERACTIVE path path)))
         (layers (gimp-image-get-layers image))
         (drawable (image-drawable image))
         (png (string-append WORK "/dump/" name "/image.png"))
         (gimp-png (car (gimp-file-load RUN-NONINTERACTIVE png png)))
         (gimp-drawable (image-drawable gimp-png)))
    (check (= (car layers) 1) (string-append name ": one layer"))
    (check (and (= (car (gimp-image-width image)) (car (gimp-image-width gimp-png)))
                (= (car (gimp-image-height image)) (car (gimp-image-height gimp-png))))
           (string-append name ": size as GIMP's PNG loader gives it"))
    ; a palette stays one, as with the PNG loader; pixels are compared
    ; through PNG files
    (check (= (car (gimp-image-base-type image)) (car (gimp-image-base-type gimp-png)))
           (string-append name ": base type (palette: INDEXED) as GIMP's PNG loader gives it"))
    (check (equal? (vector->list (cadr (gimp-image-get-colormap image)))
                   (vector->list (cadr (gimp-image-get-colormap gimp-png))))
           (string-append name ": colormap as GIMP's PNG loader gives it"))
    (check (= (car (gimp-drawable-type drawable)) (car (gimp-drawable-type gimp-drawable)))
           (string-append name ": layer type as GIMP's PNG loader gives it"))
    (check (= (car (gimp-image-get-precision image)) (car (gimp-image-get-precision gimp-png)))
           (string-append name ": precision as GIMP's PNG loader gives it"))
    (check (= (car (gimp-image-get-color-profile image))
              (car (gimp-image-get-color-profile gimp-png)))
           (string-append name ": ICC profile as GIMP's PNG loader gives it"))
    (save-png image (out (string-append name ".ours.png")))
    (save-png gimp-png (out (string-append name ".gimp-png.png")))
    (gimp-image-delete gimp-png)

    (check (has-parasite? image "raiiaf/manifest") (string-append name ": manifest parasite"))
    (check (has-parasite? image "gimp-comment") (string-append name ": comment"))

    ; the thumbnail procedure: the image's size and type, one layer
    (let ((thumb (file-raiiaf-load-thumb path 128)))
      (check (and (= (cadr thumb) (car (gimp-image-width image)))
                  (= (caddr thumb) (car (gimp-image-height image)))
                  (= (cadddr thumb) (car (gimp-drawable-type drawable))))
             (string-append name ": thumbnail procedure"))
      (gimp-image-delete (car thumb)))

    ; an edit, then export: everything but the pixels comes back
    (gimp-drawable-invert drawable FALSE)
    (check (not (fails? (lambda () (export image (out (string-append name ".edited.raiiaf"))
                                           6 "keep" 1 "" ""))))
           (string-append name ": export after an edit"))
    (check (not (fails? (lambda () (export image (out (string-append name ".nolatents.raiiaf"))
                                           9 "keep" 0 "" ""))))
           (string-append name ": export without latents"))
    ; XCF keeps the parasites
    (let ((xcf (out (string-append name ".xcf"))))
      (gimp-xcf-save RUN-NONINTERACTIVE image drawable xcf xcf)
      (let ((from-xcf (car (gimp-xcf-load RUN-NONINTERACTIVE xcf xcf))))
        (check (all-in? (parasite-names image) (parasite-names from-xcf))
               (string-append name ": XCF keeps the parasites"))
        (check (not (fails? (lambda () (export from-xcf (out (string-append name ".from-xcf.raiiaf"))
                                               6 "keep" 1 "" ""))))
               (string-append name ": export from XCF"))
        (gimp-image-delete from-xcf)))
    (gimp-image-delete image)))

; ---- broken files, mismatched profile, failed export -------------------------

(define (check-corrupt path)
  (let ((before (image-count)))
    (check (fails? (lambda () (load-raiiaf path)))
           (string-append path ": open fails"))
    (check (fails? (lambda () (gimp-file-load RUN-NONINTERACTIVE path path)))
           (string-append path ": gimp-file-load fails"))
    (if (or (contains? path "-latn-") (contains? path "-envc-"))
        ; The preview never reads latents nor the environment: a file
        ; broken only there still shows its picture.
        (check (not (fails? (lambda () (gimp-image-delete
                                         (car (file-raiiaf-load-thumb path 128))))))
               (string-append path ": thumbnail succeeds without reading latents"))
        (check (fails? (lambda () (file-raiiaf-load-thumb path 128)))
               (string-append path ": thumbnail fails")))
    (check (= (image-count) before) (string-append path ": nothing half-loaded"))))

(define (check-mismatched-profile)
  (let ((image (load-raiiaf (string-append WORK "/grey-rgb-icc.raiiaf"))))
    (check (and (= (car (gimp-image-base-type image)) GRAY)
                (= (car (gimp-image-get-color-profile image)) 0))
           "grey image with an RGB profile: grey, profile left out")
    (gimp-image-delete image)))

(define (check-failed-export path)
  (let ((image (load-raiiaf path)))
    (check (fails? (lambda () (export image (out "no-such-dir/x.raiiaf") 6 "keep" 1 "" "")))
           "export into a missing folder fails")
    (check (fails? (lambda () (export image (out "x.raiiaf") 6 "bogus" 1 "" "")))
           "export with an unknown latent storage fails")
    (gimp-image-delete image)))

; ---- options, remembered values, Script-Fu forms ------------------------------

(define (check-options path)
  ; Another image's export is remembered (no latents, another prompt) ...
  (let ((other (load-raiiaf path)))
    (export other (out "other.raiiaf") 6 "keep" 0 "another prompt" "another-model")
    (gimp-image-delete other))
  (let ((image (load-raiiaf path)))
    ; ... but "Export to" / "Overwrite" (last values) of an image opened
    ; from a .raiiaf with no export of its own keeps its prompt and latents.
    (check (not (fails? (lambda () (file-raiiaf-export RUN-WITH-LAST-VALS image
                                                       (image-drawable image)
                                                       (out "last-values.raiiaf")
                                                       (out "last-values.raiiaf")
                                                       6 "" 0 "" "" 0 0 0 0 0))))
           "last values: export")
    (check (not (fails? (lambda () (export image (out "override.raiiaf") 6 "keep" 1
                                           "a new prompt, with a comma" "other-model"))))
           "override: export")
    ; the file's own latents, re-stored raw
    (check (not (fails? (lambda () (export image (out "script-fu.raiiaf") 1 "raw" 1 "" ""))))
           "Script-Fu export with latent storage raw")
    ; options left empty (as gimp-file-save passes them) keep everything
    (check (not (fails? (lambda () (export image (out "script-fu-short.raiiaf") 2 "" 0 "" ""))))
           "Script-Fu export with the options left empty")
    (check (not (fails? (lambda () (gimp-file-save RUN-NONINTERACTIVE image (image-drawable image)
                                                   (out "script-fu-file-save.raiiaf")
                                                   (out "script-fu-file-save.raiiaf")))))
           "gimp-file-save picks the exporter by the extension")
    (gimp-image-delete image)))

(define (new-image name width height type precision layer-type)
  (let* ((image (car (gimp-image-new-with-precision width height type precision)))
         (layer (car (gimp-layer-new image width height layer-type "bg" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer image layer 0 0)
    (gimp-context-set-foreground '(200 100 50))
    (gimp-drawable-fill layer FILL-FOREGROUND)
    image))

(define (check-new-images)
  (for-each
    (lambda (spec)
      (let ((image (apply new-image spec)))
        (check (not (fails? (lambda () (export image (out (string-append (car spec) ".raiiaf"))
                                               6 "auto" 1 "a cat, on a mat" "test-model"))))
               (string-append (car spec) ": export"))
        (gimp-image-delete image)))
    (list (list "new-rgb8" 64 48 RGB PRECISION-U8-GAMMA RGB-IMAGE)
          (list "new-graya16" 33 17 GRAY PRECISION-U16-GAMMA GRAYA-IMAGE)
          (list "new-rgba16" 20 30 RGB PRECISION-U16-GAMMA RGBA-IMAGE)))
  ; two float layers: the visible image, flattened, at 16 bits
  (let* ((image (new-image "f" 40 30 RGB PRECISION-FLOAT-GAMMA RGB-IMAGE))
         (top (car (gimp-layer-new image 20 10 RGBA-IMAGE "top" 50 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer image top 0 0)
    (gimp-drawable-fill top FILL-WHITE)
    (check (not (fails? (lambda () (export image (out "new-float-layers.raiiaf") 6 "keep" 1 "" ""))))
           "two float layers: export")
    (gimp-image-delete image))
  (let ((image (new-image "i" 24 24 RGB PRECISION-U8-GAMMA RGB-IMAGE)))
    (gimp-image-convert-indexed image CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 FALSE FALSE "")
    (check (not (fails? (lambda () (export image (out "new-indexed.raiiaf") 6 "keep" 1 "" ""))))
           "indexed image: export")
    (gimp-image-delete image)))

; ---- what a .raiiaf held comes back (see check_origin_exports) -----------------

(define (check-origin)
  (let* ((path (string-append WORK "/origin.raiiaf"))
         (image (load-raiiaf path))
         (xcf (out "origin.xcf")))
    (check (has-parasite? image "raiiaf-gimp/origin") "origin: origin record attached")
    ; Image > Metadata: every tag GIMP's PNG loader shows for the embedded
    ; PNG (its Exif and XMP), and the model from the manifest
    (let* ((png (string-append WORK "/src/origin.png"))
           (png-image (car (file-png-load RUN-NONINTERACTIVE png png)))
           (want (car (gimp-image-get-metadata png-image)))
           (got (car (gimp-image-get-metadata image))))
      (gimp-image-delete png-image)
      (check (and (contains? want "Exif.Image.Artist") (contains? want "Xmp.dc.description"))
             "origin: GIMP's PNG loader shows the PNG's Exif and XMP")
      (check (all-lines-in? want got)
             "origin: Image > Metadata shows every tag GIMP's PNG loader shows for the PNG")
      (check (contains? got "<tag name=\"Xmp.xmp.CreatorTool\">test-model</tag>")
             "origin: Image > Metadata shows the model (Xmp.xmp.CreatorTool)"))
    ; unchanged: the original PNG bytes, no edit recorded
    (check (not (fails? (lambda () (export image (out "origin-unchanged.raiiaf") 6 "keep" 1 "" ""))))
           "origin: unchanged export")
    (gimp-xcf-save RUN-NONINTERACTIVE image (image-drawable image) xcf xcf)
    (let ((from-xcf (car (gimp-xcf-load RUN-NONINTERACTIVE xcf xcf))))
      (check (not (fails? (lambda () (export from-xcf (out "origin-from-xcf.raiiaf")
                                             6 "keep" 1 "" ""))))
             "origin: unchanged export from XCF")
      (gimp-image-delete from-xcf))
    ; Overwrite (last values) onto the file it came from, twice
    (let* ((again (out "origin-unchanged-again.raiiaf"))
           (img2 (load-raiiaf again)))
      (check (not (fails? (lambda ()
                            (file-raiiaf-export RUN-WITH-LAST-VALS img2 (image-drawable img2)
                                                again again 6 "" 0 "" "" 0 0 0 0 0)
                            (file-raiiaf-export RUN-WITH-LAST-VALS img2 (image-drawable img2)
                                                again again 6 "" 0 "" "" 0 0 0 0 0))))
             "origin: overwrite twice")
      (gimp-image-delete img2))
    ; edited: re-encoded, the PNG's metadata written back (or all but XMP)
    (gimp-drawable-invert (image-drawable image) FALSE)
    (check (not (fails? (lambda () (export image (out "origin-edited.raiiaf") 6 "keep" 1 "" ""))))
           "origin: edited export")
    (check (not (fails? (lambda ()
                          (file-raiiaf-export RUN-NONINTERACTIVE image (image-drawable image)
                                              (out "origin-no-xmp.raiiaf") (out "origin-no-xmp.raiiaf")
                                              6 "keep" 1 "" "" TRUE FALSE TRUE TRUE TRUE))))
           "origin: export without XMP")
    ; onto a symbolic link to a file with mode 0640
    (check (not (fails? (lambda () (export image (out "link.raiiaf") 6 "keep" 1 "" ""))))
           "origin: export onto a symlink")
    (gimp-image-delete image))
  ; more pixels than the plug-in's limit: refused before decoding
  (check (fails? (lambda () (load-raiiaf (string-append WORK "/huge.raiiaf"))))
         "huge: refused"))

; ---- main ----------------------------------------------------------------------

(check (= (car (gimp-procedural-db-proc-exists "file-raiiaf-load")) 1) "procedures registered")
(for-each (lambda (f) (catch (check #f (string-append (car f) ": checks raised an error"))
                             (check-fixture (car f) (cadr f))))
          FIXTURES)
(for-each check-corrupt CORRUPT)
(if GREY-RGB-ICC
    (catch (check #f "mismatched profile: error") (check-mismatched-profile)))
(catch (check #f "failed export: error") (check-failed-export (cadr (car FIXTURES))))
(catch (check #f "options: error") (check-options (cadr (car FIXTURES))))
(catch (check #f "new images: error") (check-new-images))
(if ORIGIN
    (catch (check #f "origin: error") (check-origin)))
(log-line (string-append "DONE failures=" (number->string failures)))
(close-output-port LOG)
