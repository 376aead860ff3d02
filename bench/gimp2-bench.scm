; Run inside GIMP 2.10 by bench/gimp.sh (Script-Fu; GIMP 2.10 on Debian 12
; has no Python-Fu): times gimp-file-load of each NAME.raiiaf and of
; NAME.png (its embedded PNG), alternating, and writes bench.txt. Expects
; BENCH-DIR, BENCH-ROUNDS and BENCH-NAMES defined before it is loaded.
; SPDX-License-Identifier: MIT

(define (now-ms)
  (let ((t (gettimeofday)))
    (+ (* 1000.0 (car t)) (/ (cadr t) 1000.0))))

(define (open-ms path)
  (let* ((start (now-ms))
         (image (car (gimp-file-load RUN-NONINTERACTIVE path path)))
         (elapsed (- (now-ms) start)))
    (gimp-image-delete image)
    elapsed))

(define (insert x sorted)
  (cond ((null? sorted) (list x))
        ((< x (car sorted)) (cons x sorted))
        (else (cons (car sorted) (insert x (cdr sorted))))))

(define (median xs)
  (let* ((sorted (let loop ((xs xs) (acc '()))
                   (if (null? xs) acc (loop (cdr xs) (insert (car xs) acc)))))
         (n (length sorted)))
    (if (odd? n)
        (list-ref sorted (quotient n 2))
        (/ (+ (list-ref sorted (- (quotient n 2) 1)) (list-ref sorted (quotient n 2))) 2.0))))

(define (fixed x)   ; one decimal
  (let ((tenths (round (* x 10))))
    (string-append (number->string (quotient (inexact->exact tenths) 10)) "."
                   (number->string (remainder (inexact->exact tenths) 10)))))

(define (ratio x)   ; three decimals
  (let ((m (inexact->exact (round (* x 1000)))))
    (string-append (number->string (quotient m 1000)) "."
                   (let ((r (number->string (remainder m 1000))))
                     (string-append (substring "000" 0 (- 3 (string-length r))) r)))))

(define out (open-output-file (string-append BENCH-DIR "/bench.txt")))
(define worst 0)
(display "file                           png ms  raiiaf ms   ratio\n" out)
(for-each
  (lambda (name)
    (let ((raiiaf (string-append BENCH-DIR "/" name ".raiiaf"))
          (png (string-append BENCH-DIR "/" name ".png")))
      (open-ms raiiaf)   ; warm the page cache and the plug-in binaries
      (open-ms png)
      (let loop ((i 0) (a '()) (b '()))
        (if (< i BENCH-ROUNDS)
            (let* ((tr (open-ms raiiaf)) (tp (open-ms png)))
              (loop (+ i 1) (cons tr a) (cons tp b)))
            (let* ((mr (median a)) (mp (median b)) (q (/ mr mp)))
              (if (> q worst) (set! worst q))
              (display (string-append name (make-string (max 1 (- 30 (string-length name))) #\space)
                                      (fixed mp) "  " (fixed mr) "  " (ratio q) "\n") out))))))
  BENCH-NAMES)
(display (string-append "worst ratio " (ratio worst) " (target <= 1.15), median of "
                        (number->string BENCH-ROUNDS) " opens each\n") out)
(close-output-port out)
