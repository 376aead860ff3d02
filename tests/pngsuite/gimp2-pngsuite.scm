; Runs inside one headless GIMP 2.10 (Script-Fu batch: GIMP 2.10 on Debian
; 12 has no Python-Fu), driven by check-hosts.py, which defines before
; loading this file:
;   WORK   the work folder
;   CASES  one list a case:
;     ("open" NAME PNG RAIIAF EXPORTED)  open RAIIAF with our plug-in and PNG
;            with GIMP's own PNG loader (file-png-load): the two images must
;            be the same; then export ours to EXPORTED (.raiiaf), open that
;            again: still the same as the PNG (EXPORTED "-": no export)
;     ("refuse" NAME RAIIAF)             our plug-in must refuse the file
; and writes WORK/gimp-results.txt: "NAME STEP ok" or "NAME STEP DIFF: what",
; then "DONE". The pixels of 8-bit images are compared here; a 16-bit
; image is saved by GIMP's PNG exporter with the same options as
; WORK/NAME.STEP.png (STEP "png" for GIMP's own open of the PNG, "open" and
; "export" for ours), and check-hosts.py compares the rows, palette and
; tRNS of those files.
;
; SPDX-License-Identifier: MIT

(define OUT (open-output-file (string-append WORK "/gimp-results.txt")))

(define (result name step diff)
  (display (string-append name " " step " " (if (string=? diff "") "ok" (string-append "DIFF: " diff)))
           OUT)
  (newline OUT))

(define (parasite image name)
  (let ((p (catch #f (gimp-image-get-parasite image name))))
    (if p (list (cadr (car p)) (caddr (car p))) #f)))

(define (as-list v) (if (vector? v) (vector->list v) v))

; Every pixel of an 8-bit drawable as gimp-drawable-get-pixel gives it:
; the stored bytes (an index and its alpha for INDEXED).
(define (pixels8 layer)
  (let ((w (car (gimp-drawable-width layer)))
        (h (car (gimp-drawable-height layer))))
    (let loop ((y 0) (out '()))
      (if (= y h)
          out
          (loop (+ y 1)
                (let loopx ((x 0) (out out))
                  (if (= x w)
                      out
                      (loopx (+ x 1) (cons (vector->list (cadr (gimp-drawable-get-pixel layer x y)))
                                           out)))))))))

; What a user of the image sees, as (key value) pairs. The pixels of an
; 8-bit image are read here; gimp-drawable-get-pixel gives 16-bit ones at
; 8 bits, so a 16-bit image is saved as PNG beside (`png`) and its pixels
; are compared by check-hosts.py.
(define (describe image png)
  (let* ((layers (gimp-image-get-layers image))
         (layer (aref (cadr layers) 0))
         (res (gimp-image-get-resolution image))
         (eight (member (car (gimp-image-get-precision image))
                        (list PRECISION-U8-GAMMA PRECISION-U8-LINEAR))))
    (if (not eight)
        (file-png-save2 RUN-NONINTERACTIVE image layer png png
                        0 1 0 0 0 0 0 0 1))  ; interlace compression bkgd gama offs phys time comment save-transparent
    (list
      (list "pixels" (if eight (pixels8 layer) #f))
      (list "size" (list (car (gimp-image-width image)) (car (gimp-image-height image))))
      (list "base type" (car (gimp-image-base-type image)))
      (list "precision" (car (gimp-image-get-precision image)))
      (list "layers" (car layers))
      (list "layer type" (car (gimp-drawable-type layer)))
      (list "layer name" (car (gimp-item-get-name layer)))
      (list "layer size" (list (car (gimp-drawable-width layer)) (car (gimp-drawable-height layer))
                               (gimp-drawable-offsets layer)))
      (list "colormap" (as-list (cadr (gimp-image-get-colormap image))))
      (list "profile" (as-list (cadr (gimp-image-get-color-profile image))))
      (list "profile name" (parasite image "icc-profile-name"))
      (list "gamma" (parasite image "gamma"))
      (list "comment" (parasite image "gimp-comment"))
      (list "resolution" res)
      (list "unit" (car (gimp-image-get-unit image)))
      (list "metadata" (car (gimp-image-get-metadata image))))))

(define (differences want got)
  (let loop ((w want) (g got) (out ""))
    (if (null? w)
        out
        (loop (cdr w) (cdr g)
              (if (equal? (cadr (car w)) (cadr (car g)))
                  out
                  (string-append out (if (string=? out "") "" "; ") (car (car w))
                                 (cond
                                   ((member (car (car w)) '("metadata" "pixels")) "")
                                   ((member (car (car w)) '("colormap" "profile"))
                                     (string-append " (" (number->string (length (cadr (car w))))
                                                    " vs " (number->string (length (cadr (car g))))
                                                    " bytes)"))
                                   (else
                                     (string-append " (" (any->string (cadr (car w))) " vs "
                                                    (any->string (cadr (car g))) ")")))))))))

(define (any->string x)
  (cond ((string? x) x)
        ((number? x) (number->string x))
        ((not x) "none")
        ((list? x) (string-append "(" (let join ((l x) (s ""))
                                        (if (null? l) s
                                            (join (cdr l) (string-append s (if (string=? s "") "" " ")
                                                                         (any->string (car l))))))
                                  ")"))
        (else "?")))

(define (load-or-false proc path)
  (catch #f (car (proc RUN-NONINTERACTIVE path path))))

(define (open-case name png raiiaf exported)
  (let ((ref (load-or-false file-png-load png)))
    (if (not ref)
        (result name "open" "GIMP's PNG loader refuses the PNG")
        (let ((want (describe ref (string-append WORK "/" name ".png.png")))
              (ours (load-or-false file-raiiaf-load raiiaf)))
          (gimp-image-delete ref)
          (if (not ours)
              (result name "open" "our plug-in refuses the .raiiaf")
              (begin
                (result name "open" (differences want (describe ours (string-append WORK "/" name ".open.png"))))
                (if (not (string=? exported "-"))
                    ; clean, as File > Open (gimp-file-load) leaves it: see
                    ; gimp-pngsuite.py
                    (let ((ok (catch #f (begin
                                          (gimp-image-clean-all ours)
                                          (file-raiiaf-export RUN-NONINTERACTIVE ours
                                                              (aref (cadr (gimp-image-get-layers ours)) 0)
                                                              exported exported 6 "keep" 1 "" ""
                                                              TRUE TRUE TRUE TRUE TRUE)
                                          #t))))
                      (let ((again (and ok (load-or-false file-raiiaf-load exported))))
                        (if (not again)
                            (result name "export" (if ok "the export does not open" "not exported"))
                            (begin
                              (result name "export"
                                      (differences want (describe again (string-append WORK "/" name ".export.png"))))
                              (gimp-image-delete again))))))
                (gimp-image-delete ours)))))))

(define (refuse-case name raiiaf)
  (let ((image (load-or-false file-raiiaf-load raiiaf)))
    (result name "refuse" (if image "opened" ""))
    (if image (gimp-image-delete image))))

(for-each (lambda (c)
            (if (not (catch #f (begin
                                 (if (string=? (car c) "open")
                                     (apply open-case (cdr c))
                                     (apply refuse-case (cdr c)))
                                 #t)))
                (result (cadr c) (car c) "error in the checks")))
          CASES)
(display "DONE" OUT)
(newline OUT)
(close-output-port OUT)
