
(
xInput"
dtype8"
shape2

(
yInput"
dtype8c"
shape2
