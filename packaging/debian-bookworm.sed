# packaging/build-debs on Debian 12 (bookworm): the same packages built
# against GIMP 2.10 and ImageMagick 6, named after them. Applied to
# debian/control and debian/gimp-plugin-raiiaf.install.
# Only the Q16 coder for ImageMagick 6: no Q16HDRI package.
/^ *libmagickcore-7\.q16hdri-dev,$/d
/^Package: imagemagick-7\.q16hdri-raiiaf$/,/^$/d
s/libmagickcore-7\.q16-dev/libmagickcore-6.q16-dev/
s/libgimp-3\.0-dev/libgimp2.0-dev,\n               libgexiv2-dev/
s/imagemagick-7-raiiaf/imagemagick-6-raiiaf/g
s/imagemagick-7\.q16/imagemagick-6.q16/g
s/ImageMagick 7 (Q16)/ImageMagick 6 (Q16)/g
s/ImageMagick 7/ImageMagick 6/g
s/so that magick,$/so that/
s/gimp (>= 3\.0)/gimp (>= 2.10), gimp (<< 2.99)/
s/GIMP 3/GIMP 2.10/g
s|usr/lib/\${DEB_HOST_MULTIARCH}/gimp/3\.0/plug-ins|usr/lib/gimp/2.0/plug-ins|
# NumPy's headers are in python3-numpy itself on Debian 12.
/^ *python3-numpy-dev$/d
