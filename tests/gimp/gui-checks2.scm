; Runs inside GIMP 2.10 with its GUI (Script-Fu batch), under Xvfb, driven
; by test-gimp-gui.py --api 2.0, which answers the export dialog from the
; keyboard and defines WORK (the work folder) before loading this file. The
; work folder holds A.raiiaf and B.raiiaf (files with latents); results go
; to out/ and gui-checks.log, as with gui-checks.py for GIMP 3.
;
; 1. A, inverted (so that its PNG is encoded anew, at the chosen level),
;    exported by script at compression 9 with its latents:
;    out/A-level9.raiiaf, the reference, and the values the dialog opens with.
; 2. A interactive export: the dialog is shown; the driver types level 0,
;    unticks "Keep latents" and presses Export: out/A-dialog.raiiaf is
;    stored (deflate level 0) and has no latents.
; 3. B "Export to"/Overwrite (last values): A's "Keep latents" must not
;    apply to B: out/B-last-values.raiiaf keeps B's latents.
; 4. A last values again: A's own choices apply: level 0, no latents.
;
; SPDX-License-Identifier: MIT

(define LOG (open-output-file (string-append WORK "/gui-checks.log")))

(define (log-line text)
  (display text LOG)
  (newline LOG))

(define (out name) (string-append WORK "/out/" name))

(define (load-raiiaf name)
  (let ((path (string-append WORK "/" name)))
    (car (file-raiiaf-load RUN-NONINTERACTIVE path path))))

(define (image-drawable image) (car (gimp-image-get-active-drawable image)))

; Script-Fu wants every argument; the plug-in reads the options only when
; it runs non-interactively. A call that fails or is cancelled raises an
; error.
(define (export image name run-mode mode-name)
  (let ((result (catch "failed"
                  (file-raiiaf-export run-mode image (image-drawable image) (out name) (out name)
                                      9 "keep" TRUE "" "" TRUE TRUE TRUE TRUE TRUE)
                  "success")))
    (log-line (string-append "export " name " " mode-name ": " result))))

(let ((a (load-raiiaf "A.raiiaf"))
      (b (load-raiiaf "B.raiiaf")))
  (gimp-drawable-invert (image-drawable a) FALSE)
  (export a "A-level9.raiiaf" RUN-NONINTERACTIVE "noninteractive")
  (gimp-display-new a)
  (gimp-displays-flush)
  (export a "A-dialog.raiiaf" RUN-INTERACTIVE "interactive")
  (export b "B-last-values.raiiaf" RUN-WITH-LAST-VALS "with-last-vals")
  (export a "A-last-values.raiiaf" RUN-WITH-LAST-VALS "with-last-vals")
  (gimp-image-clean-all a)
  (gimp-image-delete b))

(log-line "DONE")
(close-output-port LOG)
