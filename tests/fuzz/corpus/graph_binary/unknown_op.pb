
(
xInput"
dtype8"
shape2


y
Frobnicatex