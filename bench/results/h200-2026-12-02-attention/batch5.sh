cd dist/device
R=/tmp/r5; rm -rf $R; mkdir -p $R
S=--shape=8,12,1024,64
node attention.mjs --reps 10 $S --methods tiles > $R/a.txt 2>&1
node attention.mjs --reps 10 $S --methods rows,tiles > $R/b.txt 2>&1
node attention.mjs --reps 10 $S --methods tiles,tiles > $R/c.txt 2>&1
node attention.mjs --reps 10 --methods tiles > $R/d.txt 2>&1
for f in a b c d; do echo "== $f"; grep -v Warning $R/$f.txt | grep fwd; done
