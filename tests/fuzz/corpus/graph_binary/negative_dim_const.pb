
&
cConst"
valueBÿÿÿÿÿÿÿÿÿ